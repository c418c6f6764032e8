// Length-prefixed framing (mesh/length-prefixed.ts, issue 15): frames of every length-prefix
// size arrive intact over real libp2p streams, an incomplete length costs no new RangeError
// (the stock lpStream decoder built one, its stack captured, for every frame of 128 bytes or
// more), and a length prefix longer than the frame limit can need is refused instead of read on.
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { generateSwarmKey, lengthDecoder, lengthPrefixed } from '../mesh/index.js'
import { kitSuite, withDeadline } from './kit/index.js'
import { startNode } from './kit/mesh.js'

const test = kitSuite('length-prefixed')
const PROTO = '/sov/test/lp/1.0.0'

/** A reads `want` frames with `lengthPrefixed` from the stream B opens; B writes with stock lpStream. */
async function pair (ctx: any, want: number): Promise<{ send: (frames: Uint8Array[]) => Promise<void>, received: Promise<Uint8Array[]>, raw: any }> {
  const key = generateSwarmKey()
  const a = await startNode(ctx, key)
  const b = await startNode(ctx, key)
  let gotAll: ((v: Uint8Array[]) => void) | undefined
  let failed: ((err: Error) => void) | undefined
  const received = new Promise<Uint8Array[]>((resolve, reject) => { gotAll = resolve; failed = reject })
  received.catch(() => {}) // awaited by the test, maybe only after its writes
  await a.handle(PROTO, async stream => {
    const lp = lengthPrefixed(stream, { maxDataLength: 1024 * 1024 })
    const out: Uint8Array[] = []
    try {
      while (out.length < want) out.push((await lp.read()).subarray())
      gotAll!(out)
    } catch (err) {
      failed!(err as Error)
    }
  })
  const raw = await b.dialProtocol(a.getMultiaddrs()[0], PROTO)
  const lp = lpStream(raw)
  return { send: async frames => { for (const f of frames) await lp.write(f) }, received, raw }
}

test('frames with 1-, 2- and 3-byte length prefixes arrive intact through PSK, Noise and Yamux', async ctx => {
  const frames = [randomBytes(0), randomBytes(1), randomBytes(127), randomBytes(128), randomBytes(16383), randomBytes(16384), randomBytes(100_000),
    ...Array.from({ length: 200 }, () => randomBytes(1200))]
  const p = await pair(ctx, frames.length)
  await p.send(frames)
  const got = await withDeadline(p.received, 20_000, 'the frames')
  assert.is(got.length, frames.length)
  frames.forEach((f, i) => { assert.ok(Buffer.from(got[i]).equals(f), `frame ${i} (${f.length} bytes) arrived intact`) })
})

test('an incomplete length throws one shared RangeError, not a new one per frame; complete lengths decode as unsigned varints', () => {
  // lpStream calls the decoder after each byte of the prefix: the view it passes has byteLength and get().
  const view = (bytes: number[]): any => ({ byteLength: bytes.length, get: (i: number) => bytes[i] })
  const decode = lengthDecoder(3)
  const thrown = new Set<unknown>()
  for (let i = 0; i < 200; i++) {
    try { decode(view([0x80 | (i & 0x7f)])); assert.unreachable('an incomplete prefix decoded') } catch (err) { assert.instance(err, RangeError); thrown.add(err) }
  }
  // The stock decoder (uint8-varint via Uint8ArrayList.get) built 200 here, each with its stack.
  assert.is(thrown.size, 1)
  assert.is(decode(view([0])), 0)
  assert.is(decode(view([0x7f])), 127)
  assert.is(decode(view([0x80, 0x01])), 128)
  assert.is(decode(view([0xb0, 0x09])), 1200)
  assert.is(decode(view([0x80, 0x80, 0x40])), 1024 * 1024)
  assert.is(decode(view([0x80, 0x80, 0x80, 0x01])), Number.MAX_SAFE_INTEGER, 'past 3 bytes: a length lpStream refuses')
})

test('a length prefix longer than the 1 MiB limit can need (3 bytes) is refused as InvalidDataLengthLengthError, not read on', async ctx => {
  const p = await pair(ctx, 1)
  // Continuation bytes without end: the stock decoder kept reading them one at a time.
  p.raw.send(new Uint8Array(64).fill(0x80))
  const err = await withDeadline(p.received.then(() => undefined, (e: Error) => e), 10_000, 'the refusal')
  assert.is(err?.name, 'InvalidDataLengthLengthError')
})

test.run()
