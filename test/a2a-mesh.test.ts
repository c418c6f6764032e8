// Mailboxes over real in-process libp2p nodes (TCP on loopback, PSK, Noise, Yamux).
import * as assert from 'uvu/assert'
import { generateSwarmKey } from '../mesh/index.js'
import { kitSuite, waitFor, withDeadline } from './kit/index.js'
import { startA2ANode, textMessage } from './kit/a2a.js'

const test = kitSuite('a2a-mesh')

test('a granted peer delivers pipelined messages; the consumer leases, acks; the outbox shows delivered', async ctx => {
  const swarmKey = generateSwarmKey()
  const b = await startA2ANode(ctx, { swarmKey })
  const a = await startA2ANode(ctx, { swarmKey, bootstrap: [b.addr] })
  b.grants.add(`${a.peerId}:inbox`)
  const sent = new Set<string>()
  const ids = await Promise.all(Array.from({ length: 300 }, async (_, i) => {
    const m = textMessage(`hello ${i}`)
    sent.add(m.messageId)
    return (await a.a2a.send(b.peerId, 'inbox', m, 30_000)).id
  }))
  assert.is(new Set(ids).size, 300)
  const got = new Map<string, string>()
  await withDeadline((async () => {
    while (got.size < 300) {
      const msgs = await b.a2a.receive('inbox', { leaseMs: 10_000, max: 100, waitMs: 2000 })
      for (const m of msgs) { assert.not.ok(got.has(m.id), 'no id twice'); got.set(m.id, (m.message as any).messageId); assert.is(m.from, a.peerId) }
      b.a2a.ack('inbox', msgs.map(m => m.id))
    }
  })(), 20_000, 'B to receive 300')
  assert.equal(new Set(got.values()), sent)
  await waitFor(() => a.a2a.outbox('delivered').length === 300, 5000, 'all delivered')
  assert.is(b.audit.filter(e => e.type === 'A2A_ACCEPTED').length, 300)
})

test.run()
