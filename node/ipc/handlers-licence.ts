/** IPC handlers of the licence: `licence.status` (the last verdict) and `licence.verify` (check now). */
import type { RequestType } from '../../protocol/index.js'
import type { LicenceComponents } from './components.js'
import type { Handler } from './handler.js'

export function licenceHandlers (d: LicenceComponents): Partial<Record<RequestType, Handler>> {
  return {
    'licence.status': async () => d.licence.verdict(),
    'licence.verify': async () => await d.licence.verifyNow()
  }
}
