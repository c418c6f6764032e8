/**
 * The relay of the relay benchmarks, in its own process (so its CPU is its own): a mesh node
 * serving as member relay. Prints one JSON line `{"addr"}`; answers each `cpu` line on stdin
 * with `{"cpuUs"}` (user + system µs so far), and each `mem` line, after a full GC (run it with
 * `--expose-gc`), with `{"arrayBuffers"}` (bytes held in ArrayBuffers, where relayed chunks
 * live). Also the relay of test/relay.test.ts "R keeps no copy of what it relays".
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
    if (line.trim() === 'cpu') {
      const u = process.cpuUsage()
      process.stdout.write(JSON.stringify({ cpuUs: u.user + u.system }) + '\n')
    } else if (line.trim() === 'mem') {
      // Backing stores of collected buffers are freed by a sweeper that runs after the GC:
      // collect twice, a moment apart, so only what is still referenced is counted.
      const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
      gc()
      setTimeout(() => {
        gc()
        process.stdout.write(JSON.stringify({ arrayBuffers: process.memoryUsage().arrayBuffers }) + '\n')
      }, 200)
    }
  }).on('close', () => {
    void (async () => { await node.stop(); process.exit(0) })()
  })
}
