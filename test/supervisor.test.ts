// The supervisor's lifecycle in-process: a part whose stop never settles is left behind, said,
// and the parts after it still stop (the audit log stops last, with its checkpoint).
import * as assert from 'uvu/assert'
import { Supervisor, type Part } from '../node/index.js'
import { kitSuite } from './kit/index.js'

const test = kitSuite('supervisor')

test('a part that never stops is left behind after the timeout and the others stop, in reverse order (helper finding: node stop hung without its checkpoint)', async () => {
  const stopped: string[] = []
  const lines: string[] = []
  const part = (name: string, stop: () => Promise<void> = async () => { stopped.push(name) }): Part => ({ name, start: async () => {}, stop })
  const s = new Supervisor([part('audit'), part('hung', async () => await new Promise<void>(() => {})), part('failing', async () => { throw new Error('boom') }), part('ipc')], { stopTimeoutMs: 200, log: l => { lines.push(l) } })
  await s.start()
  await s.stop()
  assert.equal(stopped, ['ipc', 'audit'])
  assert.is(s.status, 'stopped')
  assert.ok(lines.some(l => /^supervisor: hung did not stop within 200 ms; stopping the rest without it$/.test(l)), lines.join('\n'))
  assert.ok(lines.some(l => /^supervisor: stopping failing failed: Error: boom/.test(l)), lines.join('\n'))
})

test.run()
