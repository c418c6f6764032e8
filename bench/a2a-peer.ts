/**
 * The far end of the A2A baselines, in its own process: a PSK+Noise+Yamux node whose handler
 * reads varint-length-prefixed frames with `lpStream` and answers each with a frame of the same
 * size, in order (what a bare pipelined request/response protocol costs). Prints its address.
 */
import '../protocol/index.js'
import { lpStream } from '@libp2p/utils'
import { libp2pNode } from './mesh-peer.js'

export const LP_ECHO = '/sov/bench/lp-echo/1.0.0'

if (process.argv[1]?.endsWith('a2a-peer.js')) {
  const node = await libp2pNode('psk', Buffer.from(process.argv[2], 'hex'))
  await node.handle(LP_ECHO, async stream => {
    const lp = lpStream(stream, { maxDataLength: 2 * 1024 * 1024 })
    try {
      for (;;) await lp.write((await lp.read()).subarray())
    } catch {
      await stream.close().catch(() => {})
    }
  }, { maxInboundStreams: 8 })
  process.stdout.write(node.getMultiaddrs()[0].toString() + '\n')
}
