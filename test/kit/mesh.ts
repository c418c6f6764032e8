/**
 * In-process mesh nodes on 127.0.0.1 port 0, each stopped after the test (registered at
 * creation), plus stream helpers that respect back-pressure.
 */
import { createHash } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { preSharedKey } from '@libp2p/pnet'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, Stream } from '@libp2p/interface'
import { createMeshNode, formatSwarmKey, type MeshNode, type MeshNodeOptions } from '../../mesh/index.js'
import type { KitContext } from './index.js'

export async function startNode (ctx: KitContext, swarmKey: Uint8Array, opts: Partial<MeshNodeOptions> = {}): Promise<MeshNode> {
  const node = await createMeshNode({
    privateKey: opts.privateKey ?? await generateKeyPair('Ed25519'),
    swarmKey,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...opts
  })
  ctx.defer(async () => { await node.stop() })
  return node
}

/** A node with the stock `@libp2p/pnet` protector (TCP → pnet → Noise → Yamux): the interop reference. */
export async function startStockPnetNode (ctx: KitContext, swarmKey: Uint8Array): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionProtector: preSharedKey({ psk: formatSwarmKey(swarmKey, 'base16') }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
  ctx.defer(async () => { await node.stop() })
  return node
}

/** Sends every chunk, waiting for 'drain' whenever the stream asks for it. */
export async function sendAll (stream: Stream, chunks: Iterable<Uint8Array>): Promise<void> {
  for (const chunk of chunks) {
    if (!stream.send(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => { done(); resolve() }
        const onClose = (): void => { done(); reject(new Error('stream closed while waiting for drain')) }
        const done = (): void => { stream.removeEventListener('drain', onDrain); stream.removeEventListener('close', onClose) }
        stream.addEventListener('drain', onDrain)
        stream.addEventListener('close', onClose)
      })
    }
  }
}

/** Reads a stream to its end: total bytes and SHA-256. */
export async function hashStream (stream: Stream): Promise<{ bytes: number, sha256: string }> {
  const h = createHash('sha256')
  let bytes = 0
  for await (const chunk of stream) {
    const buf = chunk.subarray()
    bytes += buf.byteLength
    h.update(buf)
  }
  return { bytes, sha256: h.digest('hex') }
}

/** Reads a stream to its end as one buffer. */
export async function readAll (stream: Stream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(Buffer.from(chunk.subarray()))
  return Buffer.concat(parts)
}
