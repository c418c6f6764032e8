/** PeerIds this node refuses at the connection gater, persisted in `peers/revoked.json`. */
import { existsSync, readFileSync } from 'node:fs'
import { writeFileAtomic } from '../files/index.js'

export class RevokedPeers {
  private readonly path: string
  private readonly set: Set<string>

  constructor (path: string) {
    this.path = path
    this.set = new Set(existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { revoked: string[] }).revoked : [])
  }

  has (peerId: string): boolean {
    return this.set.has(peerId)
  }

  add (peerId: string): boolean {
    if (this.set.has(peerId)) return false
    this.set.add(peerId)
    writeFileAtomic(this.path, JSON.stringify({ revoked: [...this.set].sort() }, null, 2) + '\n')
    return true
  }

  list (): string[] {
    return [...this.set].sort()
  }
}
