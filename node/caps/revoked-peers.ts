/** PeerIds this node refuses at the connection gater, persisted in `peers/revoked.json`. */
import { readJsonFile, writeFileAtomic } from '../files/index.js'

export class RevokedPeers {
  private readonly path: string
  private readonly set: Set<string>

  constructor (path: string) {
    this.path = path
    const data = readJsonFile(path, 'revoked peers', { revoked: [] as string[] }, x => Array.isArray(x?.revoked) && x.revoked.every((p: unknown) => typeof p === 'string'))
    this.set = new Set(data.revoked)
  }

  has (peerId: string): boolean {
    return this.set.has(peerId)
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
