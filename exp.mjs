import './dist/protocol/index.js'
import { createMeshNode, generateSwarmKey, isSwarmKeyMismatch } from './dist/mesh/index.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
const mk = async (k) => createMeshNode({ privateKey: await generateKeyPair('Ed25519'), swarmKey: k, listen: ['/ip4/127.0.0.1/tcp/0'] })
const a = await mk(generateSwarmKey()), x = await mk(generateSwarmKey())
const chain = (e, d = 0) => e == null || d > 4 ? '' : `[${e.name}: ${e.message}]` + (e.cause ? ' cause ' + chain(e.cause, d + 1) : '') + (e.errors ? ' errors ' + e.errors.map(z => chain(z, d + 1)).join(',') : '')
let bad = 0
for (let i = 0; i < 60; i++) {
  try { await x.dial(a.getMultiaddrs()[0], { signal: AbortSignal.timeout(8000) }) } catch (e) { if (!isSwarmKeyMismatch(e)) { bad++; if (bad < 3) console.log(chain(e), '\n', e.stack.split('\n').slice(0, 6).join('\n')) } }
}
console.log('bad', bad)
await a.stop(); await x.stop(); process.exit(0)
