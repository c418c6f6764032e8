/** IPC handlers of the licence: `licence.status` (the last verdict) and `licence.verify` (check now). */
import type { RequestType } from '../protocol/index.js'
import type { Daemon } from './daemon.js'
import type { Handler } from './handlers.js'

export function licenceHandlers (d: Daemon): Partial<Record<RequestType, Handler>> {
  return {
    'licence.status': async () => d.licence.verdict(),
    'licence.verify': async () => await d.licence.verifyNow()
  }
}
