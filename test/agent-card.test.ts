// Agent Card caching (issue 11 §2, A2A v1.0 §8.6): the freshness a node reads from an agent's
// response headers and the bounded life it gives the card; If-None-Match matching. Vectors in
// test/fixtures/card-freshness.json. Through real daemons: test/a2a-http.test.ts "CARD-CACHE-…".
import '../protocol/index.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { cacheLifeMs, cardUrlOf, freshnessMs, ifNoneMatch } from '../a2a/index.js'
import { shownUrl } from '../protocol/index.js'
import { repoPath } from './kit/index.js'

const vectors = JSON.parse(readFileSync(repoPath('test', 'fixtures', 'card-freshness.json'), 'utf8'))
const now = Date.parse(vectors.now)

test('freshnessMs() and cacheLifeMs() read each vector\'s headers as RFC 9111 says, bounded 1 s … 1 h', () => {
  for (const v of vectors.valid) {
    const fresh = freshnessMs(new Headers(v.headers), now)
    assert.is(fresh ?? null, v.freshMs, JSON.stringify(v.headers))
    assert.is(cacheLifeMs(fresh), v.lifeMs, `life of ${JSON.stringify(v.headers)}`)
  }
})

test('cardUrlOf() takes the base path as a directory and keeps its query; shownUrl() never shows the query (helper finding, stop 29)', () => {
  const cases: Array<[string, string]> = [
    ['http://127.0.0.1:41241', 'http://127.0.0.1:41241/.well-known/agent-card.json'],
    ['http://127.0.0.1:41241/', 'http://127.0.0.1:41241/.well-known/agent-card.json'],
    ['http://127.0.0.1:41241/a2a', 'http://127.0.0.1:41241/a2a/.well-known/agent-card.json'],
    ['http://127.0.0.1:41241/a2a/?token=k', 'http://127.0.0.1:41241/a2a/.well-known/agent-card.json?token=k'],
    ['http://127.0.0.1:41241/a2a?token=k', 'http://127.0.0.1:41241/a2a/.well-known/agent-card.json?token=k']
  ]
  for (const [base, card] of cases) assert.is(cardUrlOf(new URL(base)).href, card, base)
  assert.is(shownUrl(new URL('http://127.0.0.1:1/a2a?token=SECRET#x')), 'http://127.0.0.1:1/a2a?…')
  assert.is(shownUrl(new URL('http://127.0.0.1:1/a2a')), 'http://127.0.0.1:1/a2a')
})

test('ifNoneMatch() matches *, a list, and weak tags against our strong ETag', () => {
  for (const v of vectors.ifNoneMatch) assert.is(ifNoneMatch(v.header ?? undefined, v.etag), v.match, String(v.header))
})

test.run()
