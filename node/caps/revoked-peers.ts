/** PeerIds this node refuses at the connection gater, persisted in `peers/revoked.json`. */
import { readJsonFile, writeFileAtomic } from '../files/index.js'

export class RevokedPeers {
  private readonly path: string
  private readonly set: Set<string>
  /** Peers being revoked: refused already, while their PEER_REVOKED row is written. */
  private readonly held = new Map<string, number>()

  constructor (path: string) {
    this.path = path
    const data = readJsonFile(path, 'revoked peers', { revoked: [] as string[] }, x => Array.isArray(x?.revoked) && x.revoked.every((p: unknown) => typeof p === 'string'))
    this.set = new Set(data.revoked)
  }

  has (peerId: string): boolean {
    return this.set.has(peerId) || this.held.has(peerId)
  }

  /**
   * Refuses `peerId` from now on, before its revocation is recorded (as `Capabilities.holdRevocation`:
   * no acceptance from it follows the PEER_REVOKED row). Returns the undo, for a revocation that
   * could not be recorded.
   */
  hold (peerId: string): () => void {
    this.held.set(peerId, (this.held.get(peerId) ?? 0) + 1)
    let held = true
    return () => {
      if (!held) return
      held = false
      const n = (this.held.get(peerId) ?? 1) - 1
      if (n === 0) this.held.delete(peerId)
      else this.held.set(peerId, n)
    }
  }

  add (peerId: string): boolean {
    if (this.set.has(peerId)) return false
    this.set.add(peerId)
    this.save()
    return true
  }

  /** Allows a revoked peer again (`sov peers unrevoke`); false when it was not revoked. */
  remove (peerId: string): boolean {
    if (!this.set.delete(peerId)) return false
    this.save()
    return true
  }

  private save (): void {
    writeFileAtomic(this.path, JSON.stringify({ revoked: [...this.set].sort() }, null, 2) + '\n')
  }

  list (): string[] {
    return [...this.set].sort()
  }
}
