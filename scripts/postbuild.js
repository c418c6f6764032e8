// tsc keeps the shebang but not the executable bit of the CLI entry.
import { chmodSync } from 'node:fs'
chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755)
