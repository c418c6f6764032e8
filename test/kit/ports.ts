/**
 * Loopback ports for servers a test stops and starts again on the same address (daemons that
 * restart keep their listen address; an agent taken down and back up keeps its URL).
 *
 * Picked below the kernel's ephemeral range: a port from that range (what `listen(0)` gives) can
 * be taken between our check and the server's bind, or while it is down, as the local port of any
 * outgoing connection on the machine — with test files running side by side, a daemon then
 * failed to start with EADDRINUSE (CI, stop 32). Below the range only another listener can take
 * it, and the random pick makes that a small chance.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { randomInt } from 'node:crypto'

/** Lowest port of the ephemeral range (Linux default 32768). */
function ephemeralLow (): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  } catch {
    return 32_768
  }
}

const FIRST = 10_000

/** A loopback TCP port that was free a moment ago, outside the ephemeral range where it can be. */
export async function freePort (): Promise<number> {
  const low = ephemeralLow()
  for (let i = 0; i < 100; i++) {
    const want = low > FIRST + 1000 ? randomInt(FIRST, low) : 0
    const srv = createServer()
    const port = await new Promise<number | undefined>(resolve => {
      srv.once('error', () => { resolve(undefined) })
      srv.listen(want, '127.0.0.1', () => { resolve((srv.address() as { port: number }).port) })
    })
    if (port === undefined) continue
    await new Promise<void>(resolve => srv.close(() => { resolve() }))
    return port
  }
  throw new Error('no free loopback port below the ephemeral range after 100 tries')
}
