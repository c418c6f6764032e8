/**
 * The far end of the mesh benchmarks, in its own process so that each side has a core: for each
 * stack (raw TCP, Noise+Yamux, our PSK+Noise+Yamux, stock pnet+Noise+Yamux) a sink that answers
 * with the byte count when the stream ends, and an echo. Prints one JSON line of addresses.
 */
import '../protocol/index.js'
import { createServer, type Socket } from 'node:net'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { preSharedKey } from '@libp2p/pnet'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { formatSwarmKey, pskProtector } from '../mesh/index.js'

export const SINK = '/sov/bench/sink/1.0.0'
export const ECHO = '/sov/bench/echo/1.0.0'
export type Stack = 'noise' | 'psk' | 'pnet'

export async function libp2pNode (stack: Stack, key: Uint8Array, listen = true): Promise<Libp2p> {
  return await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 1000 },
    ...(stack === 'psk' ? { connectionProtector: pskProtector(key) } : {}),
    ...(stack === 'pnet' ? { connectionProtector: preSharedKey({ psk: formatSwarmKey(key) }) } : {})
  })
}

async function serve (node: Libp2p): Promise<void> {
  await node.handle(SINK, async stream => {
    let bytes = 0
    for await (const chunk of stream) bytes += chunk.byteLength
    stream.send(Buffer.from(String(bytes)))
    await stream.close()
  }, { maxInboundStreams: 64 })
  await node.handle(ECHO, async stream => {
    for await (const chunk of stream) {
      if (!stream.send(chunk)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
    }
    await stream.close()
  }, { maxInboundStreams: 64 })
}

function rawServer (onSocket: (s: Socket) => void): Promise<number> {
  return new Promise(resolve => {
    const server = createServer(s => { s.on('error', () => {}); onSocket(s) })
    server.listen(0, '127.0.0.1', () => { resolve((server.address() as { port: number }).port) })
  })
}

if (process.argv[1]?.endsWith('mesh-peer.js')) {
  const key = Buffer.from(process.argv[2], 'hex')
  const wrongKey = Buffer.from(process.argv[3], 'hex')
  const addrs: Record<string, string> = {}
  for (const stack of ['noise', 'psk', 'pnet'] as const) {
    const node = await libp2pNode(stack, key)
    await serve(node)
    addrs[stack] = node.getMultiaddrs()[0].toString()
  }
  for (const stack of ['psk', 'pnet'] as const) {
    const node = await libp2pNode(stack, wrongKey)
    addrs[`${stack}-wrong`] = node.getMultiaddrs()[0].toString()
  }
  addrs.rawSink = String(await rawServer(s => {
    let bytes = 0
    s.on('data', d => { bytes += d.length })
    s.on('end', () => { s.end(String(bytes)) })
  }))
  addrs.rawEcho = String(await rawServer(s => { s.pipe(s) }))
  process.stdout.write(JSON.stringify(addrs) + '\n')
}
