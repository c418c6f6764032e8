// Private A2A (issue 11): an agent slow to answer a call it has taken. In a file of its own: the
// test waits past the minute B used to give such an agent, and beside the other files it runs
// mostly asleep.
import '../protocol/index.js'
import * as assert from 'uvu/assert'
import { kitSuite, withDeadline } from './kit/index.js'
import { completed, pair, send } from './kit/a2a-http.js'

const test = kitSuite('a2a-slow-agent')

test('CORE-SEND-002: an agent that sends nothing for more than a minute after taking the call gets it once and completes it (helper finding, stop 28: B gave up after 60 s and sent the message again, every 60 s, for a day)', async ctx => {
  const p = await withDeadline(pair(ctx), 60_000, 'setup')
  const task = await withDeadline(send(p.client, 'late 62000', { returnImmediately: true }), 10_000, 'the call')
  const done = await completed(p.client, task.id, 100_000, 'the late answer', 1000)
  assert.is(done.id, task.id)
  assert.equal(p.agent.received, ['late 62000'], 'the agent got the call once')
})

test.run()
