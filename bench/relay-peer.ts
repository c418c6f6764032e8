/**
 * The relay of the relay benchmarks, in its own process (so its CPU is its own): a mesh node
 * serving as member relay. Prints one JSON line `{"addr"}`; answers each `cpu` line on stdin
 * with `{"cpuUs"}` (user + system µs so far).
 */
import '../protocol/index.js'
import { createInterface } from 'node:readline'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createMeshNode } from '../mesh/index.js'

if (process.argv[1]?.endsWith('relay-peer.js')) {
  const node = await createMeshNode({
    privateKey: await generateKeyPair('Ed25519'),
    swarmKey: Buffer.from(process.argv[2], 'hex'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    relayServe: {}
  })
  process.stdout.write(JSON.stringify({ addr: node.getMultiaddrs()[0].toString() }) + '\n')
  createInterface({ input: process.stdin }).on('line', line => {
    if (line.trim() !== 'cpu') return
    const u = process.cpuUsage()
    process.stdout.write(JSON.stringify({ cpuUs: u.user + u.system }) + '\n')
  }).on('close', () => {
    void (async () => { await node.stop(); process.exit(0) })()
  })
}
