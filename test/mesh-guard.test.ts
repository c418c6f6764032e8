// The capability middleware in front of a mesh protocol, on real mesh nodes (TCP, PSK, Noise,
// Yamux on loopback) with a real capability table and audit log.
import * as assert from 'uvu/assert'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { generateSwarmKey } from '../mesh/index.js'
import { AuditLog } from '../node/audit/index.js'
import { Capabilities, guardMeshProtocol } from '../node/caps/index.js'
import { kitSuite, withDeadline } from './kit/index.js'
import { startNode } from './kit/mesh.js'

const test = kitSuite('mesh-guard')
const PROTOCOL = '/sov/test-guard/1.0.0'

/** Sends one request on a fresh stream and reads the first reply chunk ('' when the stream is refused). */
async function ask (from: any, to: any, text: string): Promise<string> {
  const stream: Stream = await from.dialProtocol(to.peerId, PROTOCOL, { signal: AbortSignal.timeout(5000) })
  stream.send(new TextEncoder().encode(text))
  try {
    for await (const chunk of stream) return new TextDecoder().decode(chunk.subarray())
    return ''
  } catch {
    return ''
  }
}

test('a peer without a grant cannot open a guarded stream; the refusal is an audit row; a grant lets it in', async ctx => {
  const swarmKey = generateSwarmKey()
  const aKey = await generateKeyPair('Ed25519')
  const a = await startNode(ctx, swarmKey, { privateKey: aKey })
  const b = await startNode(ctx, swarmKey)
  const dir = ctx.tmp('sov-guard-')
  const audit = await AuditLog.open({ dir: `${dir}/audit`, privateKey: aKey, warn: () => {} })
  ctx.defer(async () => { await audit.close() })
  const caps = await Capabilities.open({ dir: `${dir}/capabilities`, privateKey: aKey, peerId: a.peerId.toString() })
  ctx.defer(async () => { await caps.close() })
  const calls: string[] = []
  let entered = 0
  await guardMeshProtocol(a, {
    protocol: PROTOCOL,
    cmd: '/a2a/send',
    caps,
    audit: async ev => await audit.append(ev),
    handler: async (stream, connection) => {
      entered++
      for await (const chunk of stream) {
        const text = new TextDecoder().decode(chunk.subarray())
        calls.push(`${connection.remotePeer.toString()}:${text}`)
        stream.send(new TextEncoder().encode(`ok:${text}`))
        await stream.close()
        return
      }
    }
  })
  await b.dial(a.getMultiaddrs()[0])

  assert.is(await withDeadline(ask(b, a, 'hello'), 10_000, 'a refused stream'), '')
  assert.equal(calls, [], 'the handler never saw the refused stream')
  const [row] = await audit.tail(1)
  assert.equal([row.type, row.actor, row.outcome, row.detail.protocol, row.detail.cmd], ['MESH_STREAM_REFUSED', `peer:${b.peerId.toString()}`, 'denied', PROTOCOL, '/a2a/send'])
  assert.match(String(row.detail.reason), /no grant of \/a2a\/send/)

  const g = await caps.sign({ aud: b.peerId.toString(), cmd: '/a2a/send', mailbox: 'builder' })
  await caps.add(g.id, g.grant)
  // Streams one after another: each reaches the handler exactly once (libp2p 3.3.11 would call it
  // once more for every stream served before without the guard's trimming).
  for (let i = 0; i < 5; i++) assert.is(await withDeadline(ask(b, a, `m${i}`), 10_000, `stream ${i}`), `ok:m${i}`)
  assert.equal(calls, [0, 1, 2, 3, 4].map(i => `${b.peerId.toString()}:m${i}`))
  assert.is(entered, 5, 'the handler ran once per stream')
  const chain = (a as any).components.registrar.getMiddleware(PROTOCOL) as unknown[]
  assert.ok(chain.length <= 2, `the middleware chain grew to ${chain.length}`)

  // Outbound streams of the guarded node are not fed to its inbound handler.
  b.handle(PROTOCOL, async (stream: Stream) => {
    for await (const chunk of stream) { stream.send(chunk.subarray()); await stream.close(); return }
  })
  assert.is(await withDeadline(ask(a, b, 'out'), 10_000, 'an outbound stream'), 'out')
  assert.is(entered, 5, 'our outbound stream never reached our inbound handler')

  const { rev } = await caps.prepareRevocation(g.id)
  await caps.addRevocation(rev)
  assert.is(await withDeadline(ask(b, a, 'late'), 10_000, 'a stream after revocation'), '')
  const [last] = await audit.tail(1)
  assert.match(String(last.detail.reason), /is revoked/)
  assert.is(calls.length, 5)
})

test.run()
