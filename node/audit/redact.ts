/**
 * Keeping secrets out of audit rows (brief: "never … not even in part"). A row can carry text a
 * caller chose — a mailbox name, a URL, a request field — so an agent that passes its own token
 * where a name belongs (helper finding, stop 29: 59 of a token's 64 hex digits in an
 * IPC_FORBIDDEN row) must not put it on record. Three forms are caught:
 * - a whole secret of this node (operator token, swarm key, identity key in hex/base64);
 * - part of one of its hex forms: a run of hex digits sharing PARTIAL_HEX_CHARS with one;
 * - any text from a secret prefix on (`sova_…`: agent tokens are stored only as hashes, so every
 *   one is unknown here and the prefix is what marks it).
 * The common row pays only for `includes` of each whole secret and one regex test.
 */

/** Hex digits in a row shared with a secret's hex form that count as a leak of part of it. */
export const PARTIAL_HEX_CHARS = 16

const HEX_RUN = /[0-9a-fA-F]{16,}/g

export class SecretScrubber {
  /** A prefix and what follows it up to the first character no token has. */
  private readonly prefixed: RegExp[]
  private windows?: { key: string, set: Set<string> }

  constructor (private readonly secrets: () => string[], prefixes: string[] = []) {
    this.prefixed = prefixes.map(p => new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '[0-9a-zA-Z_-]+', 'g'))
  }

  /** True when `text` holds a secret, part of one, or a prefixed token. */
  leaks (text: string): boolean {
    for (const re of this.prefixed) { re.lastIndex = 0; if (re.test(text)) return true }
    const all = this.secrets()
    for (const s of all) if (s.length >= 16 && text.includes(s)) return true
    HEX_RUN.lastIndex = 0
    if (!HEX_RUN.test(text)) return false
    return this.scrub(text) !== text
  }

  /** `text` with every secret, secret part and prefixed token replaced by `[redacted]`. */
  scrub (text: string): string {
    let out = text
    for (const re of this.prefixed) out = out.replace(re, '[redacted]')
    for (const s of this.secrets()) if (s.length >= 16) out = out.split(s).join('[redacted]')
    const windows = this.hexWindows()
    return out.replace(HEX_RUN, run => {
      const lower = run.toLowerCase()
      for (let i = 0; i + PARTIAL_HEX_CHARS <= lower.length; i++) if (windows.has(lower.slice(i, i + PARTIAL_HEX_CHARS))) return '[redacted]'
      return run
    })
  }

  /** Every PARTIAL_HEX_CHARS-long piece of every secret that is written in hex (kept until the secrets change). */
  private hexWindows (): Set<string> {
    const secrets = this.secrets()
    const key = secrets.join('\n')
    if (this.windows?.key === key) return this.windows.set
    const set = new Set<string>()
    this.windows = { key, set }
    for (const s of secrets) {
      if (!/^[0-9a-fA-F]+$/.test(s)) continue
      const lower = s.toLowerCase()
      for (let i = 0; i + PARTIAL_HEX_CHARS <= lower.length; i++) set.add(lower.slice(i, i + PARTIAL_HEX_CHARS))
    }
    return set
  }
}
