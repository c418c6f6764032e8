#!/usr/bin/env bash
# Runs the test suite on another Node major (issue 16: README claims 20, 22 and 24), in a copy of
# the tree so the machine's own build and node_modules stay as they are. The npm registry's `node`
# package carries the official binary with its headers; better-sqlite3 (not N-API) is rebuilt
# against them, the N-API addons (sodium-native, classic-level) load as they are.
# Usage: scripts/test-on-node.sh MAJOR [test filter words...]; prints the suite's closing line.
set -euo pipefail
major=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
# A symlinked node_modules (a worktree sharing another checkout's) would be copied as the link,
# and the rebuild below would then replace that checkout's better-sqlite3 for Node $major.
if [ -L "$root/node_modules" ]; then
  echo "error: node_modules in $root is a symlink; run \`npm ci\` there (or copy it) first, so this script cannot rebuild another checkout's modules" >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sov-node$major-XXXXXX")
trap 'rm -rf "$work"' EXIT

npm install --prefix "$work/node" --no-save --no-audit --no-fund --loglevel=error "node@$major" >/dev/null
dist=$(ls -d "$work"/node/node_modules/node/node_modules/node-*/bin/node | head -n 1); dist=${dist%/bin/node}
[ -n "$dist" ] && [ -x "$dist/bin/node" ] || { echo "error: no Node $major binary in the registry's node package" >&2; exit 1; }

mkdir "$work/repo"
tar -C "$root" --exclude=./.git --exclude=./dist --exclude=./bench/results -cf - . | tar -C "$work/repo" -xf -
cd "$work/repo"
export PATH="$dist/bin:$PATH" npm_config_nodedir="$dist"
echo "== Node $(node --version): rebuilding better-sqlite3 against its headers"
npm rebuild better-sqlite3 --no-audit --no-fund --loglevel=error >/dev/null
npm test -- "$@"
