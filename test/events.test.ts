import { getEventListeners } from 'node:events'
import t from 'tap'
import type { RecordedAgentEvent } from '../src/index.ts'
import { range, seqs, startServer, until, type TestServer } from './helpers.ts'
import { startRedisNode } from './redis-nodes.ts'
import { redisAvailable, startRedis } from './redis-server.ts'

/** Read a whole iteration. */
async function readAll(events: AsyncIterable<RecordedAgentEvent>): Promise<RecordedAgentEvent[]> {
  const seen: RecordedAgentEvent[] = []
  for await (const event of events) seen.push(event)
  return seen
}

async function thoughts(server: TestServer, workflowId: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) await server.app.agentEvents.emitThought(workflowId, `step ${i}`)
}

t.test('replays what is recorded, goes on live with no gap and no duplicate, and ends after the result', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  await thoughts(server, 'wf', 5)
  const reading = readAll(server.app.agentEvents.events('wf'))
  await until(() => server.app.agentEvents.getReaderCount() === 1)
  // Emitted while the reader replays and after: each reaches it once, in order.
  await thoughts(server, 'wf', 5)
  await server.app.agentEvents.emitResult('wf', { content_type: 'text', content: 'done' })
  await server.app.agentEvents.emitThought('wf', 'after the end')
  const seen = await reading
  t.same(seqs(seen), range(1, 11))
  t.equal(seen.at(-1)?.type, 'result', 'the last event handed out is the result')
  t.equal(server.app.agentEvents.getReaderCount(), 0, 'nothing is left listening')
})

t.test('a workflow with nothing recorded is waited on', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  const reading = readAll(server.app.agentEvents.events('empty'))
  await until(() => server.app.agentEvents.getReaderCount() === 1)
  await server.app.agentEvents.emitToolCall('empty', { tool_name: 'search', status: 'in_progress' })
  await server.app.agentEvents.emitError('empty', { code: 'FAILED', message: 'the run failed' })
  t.same((await reading).map((event) => event.type), ['tool_call', 'error'], 'an error of the run ends it')
})

t.test('afterSeq starts after it; compact leaves out the deltas of messages ended in the replayed range', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 0 } })
  const { agentEvents } = server.app
  await thoughts(server, 'wf', 3)
  const thought = agentEvents.stream('wf', { kind: 'thought', messageId: 'think' })
  for (const piece of ['a', 'b', 'c']) thought.write(piece)
  await thought.end()
  const answer = agentEvents.stream('wf', { kind: 'result', messageId: 'answer' })
  answer.write('Hel')
  answer.write('lo')
  // Both deltas recorded before the reader starts: they fall in its replayed range, to be merged.
  await until(async () => (await agentEvents.history('wf')).events.filter((event) => event.type === 'delta' && event.data.messageId === 'answer').length === 2)
  const afterTwo = agentEvents.events('wf', { afterSeq: 2, compact: true })
  const iterator = afterTwo[Symbol.asyncIterator]()
  const first = await iterator.next()
  t.equal((first.value as RecordedAgentEvent).seq, 3, 'starts after afterSeq')
  const second = (await iterator.next()).value as RecordedAgentEvent
  t.match(second, { type: 'thought', data: { content: 'abc', messageId: 'think' } }, 'the ended thought comes whole, without its deltas')
  const merged = (await iterator.next()).value as RecordedAgentEvent
  t.match(merged, { type: 'delta', data: { messageId: 'answer', text: 'Hello' } }, 'the open message\'s deltas are merged')
  answer.write('!')
  t.match((await iterator.next()).value, { type: 'delta', data: { text: '!' } }, 'live deltas are never compacted')
  await answer.end()
  t.match((await iterator.next()).value, { type: 'result', data: { content: 'Hello!' } })
  t.same(await iterator.next(), { value: undefined, done: true })
})

t.test('a failed thought does not end the run; a failed result stream does', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  const { agentEvents } = server.app
  const reading = readAll(agentEvents.events('wf'))
  const thought = agentEvents.stream('wf', { kind: 'thought' })
  thought.write('hmm')
  const thoughtError = await thought.abort({ code: 'MODEL_FAILED', message: 'the reasoning broke off' })
  t.equal(thoughtError.data.kind, 'thought', 'an aborted stream records its kind')
  const answer = agentEvents.stream('wf', { kind: 'result' })
  answer.write('partial')
  const answerError = await answer.abort({ code: 'MODEL_FAILED', message: 'the answer broke off' })
  t.equal(answerError.data.kind, 'result')
  const seen = await reading
  t.same(seen.map((event) => event.type), ['delta', 'error', 'delta', 'error'])
  t.equal(seen.at(-1)?.seq, answerError.seq, 'ended by the result stream\'s error')
})

t.test('a reader that does not read holds back nothing: after 1,000 events it still gets each one once', async (t) => {
  const server = await startServer(t, { rateLimit: false, replay: { maxEvents: 2000 } })
  const iterator = server.app.agentEvents.events('wf')[Symbol.asyncIterator]()
  const first = iterator.next()
  await server.app.agentEvents.emitThought('wf', 'first')
  t.equal((await first).value?.seq, 1)
  // Far more than a reader keeps for itself: the rest is read from the store when it asks.
  await thoughts(server, 'wf', 1000)
  await server.app.agentEvents.emitResult('wf', { content_type: 'text', content: 'done' })
  const rest: number[] = []
  for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) rest.push(next.value.seq)
  t.same(rest, range(2, 1002))
})

t.test('signal, break and close end the loop and leave nothing listening', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  const { agentEvents } = server.app
  await thoughts(server, 'wf', 3)

  const controller = new AbortController()
  const seen: RecordedAgentEvent[] = []
  const waiting = (async () => {
    for await (const event of agentEvents.events('wf', { signal: controller.signal })) seen.push(event)
  })()
  await until(() => seen.length === 3)
  controller.abort()
  await waiting
  t.same(seqs(seen), [1, 2, 3], 'abort ends a loop that waits for the next event')
  t.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the signal has no listener left')

  const kept = new AbortController()
  for await (const event of agentEvents.events('wf', { signal: kept.signal })) {
    if (event.seq === 2) break
  }
  t.equal(agentEvents.getReaderCount(), 0, 'break lets go of the reader')
  t.equal(getEventListeners(kept.signal, 'abort').length, 0)

  const aborted = AbortSignal.abort()
  t.same(await readAll(agentEvents.events('wf', { signal: aborted })), [], 'an aborted signal reads nothing')

  const untilClose = readAll(agentEvents.events('wf', { afterSeq: 3 }))
  await until(() => agentEvents.getReaderCount() === 1)
  await server.app.close()
  t.same(await untilClose, [], 'closing the server ends the loop')
  t.equal(agentEvents.getReaderCount(), 0)
})

t.test('bad arguments are refused with FST_AGENT_EVENTS_INVALID_EVENT naming the field', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  const { agentEvents } = server.app
  t.throws(() => agentEvents.events('bad workflow id'), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', message: /workflowId/ })
  t.throws(() => agentEvents.events('wf', { afterSeq: -1 }), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', message: /afterSeq/ })
  t.throws(() => agentEvents.events('wf', { afterSeq: 1.5 }), { message: /afterSeq/ })
  t.throws(() => agentEvents.events('wf', { compact: 'yes' as never }), { message: /compact/ })
  t.throws(() => agentEvents.events('wf', { signal: {} as never }), { message: /signal/ })
  t.throws(() => agentEvents.events('wf', null as never), { message: /options/ })
  t.equal(agentEvents.getReaderCount(), 0, 'a refused call opens no reader')
})

t.test('the history is gone: afterSeq past the last event, or a new life of the buffer after events were read', async (t) => {
  const server = await startServer(t, { rateLimit: false, replay: { maxWorkflows: 1 } })
  const { agentEvents } = server.app
  await thoughts(server, 'wf', 2)
  await t.rejects(readAll(agentEvents.events('wf', { afterSeq: 5 })), { code: 'FST_AGENT_EVENTS_HISTORY_RESET', statusCode: 409 })

  const iterator = agentEvents.events('wf')[Symbol.asyncIterator]()
  t.equal((await iterator.next()).value?.seq, 1)
  // One workflow fits: recording another forgets this one, and its next event starts a new life at seq 1.
  await agentEvents.emitThought('other', 'x')
  await agentEvents.emitThought('wf', 'a new life')
  t.equal((await iterator.next()).value?.seq, 2, 'what was read before the reset is still handed out')
  await t.rejects(iterator.next(), { code: 'FST_AGENT_EVENTS_HISTORY_RESET' })
  t.equal(agentEvents.getReaderCount(), 0)
})

if (redisAvailable(t)) {
  t.test('Redis: a reader on node B gets what node A records, replay then live, and ends after the result', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    await thoughts(a, 'wf', 10)
    const reading = readAll(b.app.agentEvents.events('wf', { afterSeq: 4 }))
    await until(() => b.app.agentEvents.getReaderCount() === 1)
    await thoughts(a, 'wf', 20)
    await a.app.agentEvents.emitResult('wf', { content_type: 'text', content: 'done' })
    const seen = await reading
    t.same(seqs(seen), range(5, 31))
    t.equal(b.app.agentEvents.getReaderCount(), 0)
  })
}
