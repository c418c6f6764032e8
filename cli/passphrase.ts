/**
 * Passphrases for invites: the first line of `--passphrase-file`, or typed on a terminal without
 * echo (twice when sealing). Never from arguments, where `ps` and shell history would keep them.
 */
import { readFileSync } from 'node:fs'
import { badRequest } from '../protocol/index.js'

export async function readPassphrase (file: string | undefined, confirm: boolean): Promise<string> {
  if (file !== undefined) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (cause) {
      throw badRequest(`Cannot read --passphrase-file "${file}": ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause })
    }
    const line = text.split(/\r?\n/)[0]
    // A blank passphrase would seal the swarm key under nothing (issue 10 §2: fail closed).
    if (line.trim() === '') throw badRequest(`Cannot use --passphrase-file "${file}": its first line is ${line === '' ? 'empty' : 'only whitespace'}`)
    return line
  }
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    throw badRequest('Cannot ask for the passphrase: no terminal; give --passphrase-file FILE')
  }
  const first = await prompt('Passphrase: ')
  if (confirm && await prompt('Passphrase again: ') !== first) throw badRequest('Cannot seal the invite: the two passphrases differ')
  return first
}

/** Reads one line from the terminal in raw mode, echoing nothing. */
async function prompt (label: string): Promise<string> {
  process.stderr.write(label)
  const stdin = process.stdin
  stdin.setRawMode(true)
  stdin.resume()
  try {
    return await new Promise<string>((resolve, reject) => {
      let value = ''
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') { stdin.off('data', onData); process.stderr.write('\n'); resolve(value); return }
          if (ch === '\u0003') { stdin.off('data', onData); process.stderr.write('\n'); reject(badRequest('Cannot read the passphrase: interrupted')); return }
          if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('')
          else value += ch
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
  }
}
