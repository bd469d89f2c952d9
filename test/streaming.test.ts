// Token streaming: `stream()` merges writes into `agent:delta` events, ends with the whole message,
// keeps its order among the workflow's other events, and replays compactly, to real clients.
import t, { type Test } from 'tap'
import type { Socket as ClientSocket } from 'socket.io-client'
import type { AgentDeltaEvent, RecordedAgentEvent } from '../src/index.ts'
import { memoryReplayStore, redisReplayStore, type ReplayStore } from '../src/index.ts'
import { redisAvailable, startRedis } from './redis-server.ts'
import { AGENT_EVENTS, collect, LogCapture, connectAs, range, request, seqs, startServer, until, waitFor, type SubscribeOk, type TestServer } from './helpers.ts'

const STREAM_EVENTS = [...AGENT_EVENTS, 'agent:delta']
type Received = RecordedAgentEvent

async function follower(t: Test, server: TestServer, subscribe: Record<string, unknown> = {}) {
  const socket = await connectAs(t, server, 'reader')
  const received = collect<Received>(socket, STREAM_EVENTS)
  const ack = await request<SubscribeOk & { compacted?: number }>(socket, 'agent:subscribe', { workflowId: 'wf', ...subscribe })
  t.equal(ack.ok, true, 'subscribed')
  return { socket, received, ack }
}

const deltas = (events: readonly Received[]) => events.filter((event): event is AgentDeltaEvent & Received => event.type === 'delta')
const textOf = (events: readonly Received[], messageId: string) =>
  deltas(events).filter((event) => event.data.messageId === messageId).map((event) => event.data.text).join('')

/** Resolve once `socket` has received an event matching `predicate`. */
function nextEvent(socket: ClientSocket, predicate: (event: Received) => boolean): Promise<Received> {
  return new Promise((resolve) => {
    const listener = (_name: string, event: Received) => {
      if (!predicate(event)) return
      socket.offAny(listener)
      resolve(event)
    }
    socket.onAny(listener)
  })
}

t.test('writes within one window are recorded as one delta with all their text, in order', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 200 } })
  const { received } = await follower(t, server)
  const stream = server.app.agentEvents.stream('wf', { kind: 'result', messageId: 'answer-1' })
  const chunks = Array.from({ length: 50 }, (_, i) => `t${i} `)
  for (const chunk of chunks) stream.write(chunk)
  await until(() => received.length === 1)
  t.match(received[0], { type: 'delta', seq: 1, data: { messageId: 'answer-1', kind: 'result', text: chunks.join('') } })
  // A later window gives a later delta.
  stream.write('and ')
  stream.write('more')
  await until(() => received.length === 2)
  t.match(received[1], { type: 'delta', seq: 2, data: { text: 'and more' } })
  const final = await stream.end({ status: 'success' })
  t.same(final.data, { content_type: 'text', content: `${chunks.join('')}and more`, messageId: 'answer-1', status: 'success' })
  await until(() => received.length === 3)
  t.same(received[2], final, 'the final result as end() resolved with it')
})

t.test('with windowMs 0 each write is its own delta; empty writes record nothing', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 0 } })
  const { received } = await follower(t, server)
  const stream = server.app.agentEvents.stream('wf', { kind: 'thought' })
  stream.write('a')
  stream.write('')
  stream.write('b')
  const final = await stream.end()
  await until(() => received.length === 3)
  t.same(received.map((event) => [event.type, event.seq]), [['delta', 1], ['delta', 2], ['thought', 3]])
  t.same(final.data, { content: 'ab', messageId: stream.messageId }, 'a thought carries content and messageId, no content_type')
  t.match(stream.messageId, /^msg-[0-9a-f-]{36}$/, 'a new unique message id by default')
})

t.test('deltas keep their place among the workflow\'s other events', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 1000 } })
  const { received } = await follower(t, server)
  const events = server.app.agentEvents
  const stream = events.stream('wf', { kind: 'result', messageId: 'm' })
  stream.write('Let me ')
  stream.write('check. ')
  // The window is long: the text written before this call is recorded before it anyway.
  await events.emitToolCall('wf', { tool_name: 'search', status: 'in_progress', tool_call_id: 'call-1', input: { q: 'x' } })
  stream.write('Found ')
  await events.emitToolCall('wf', { tool_name: 'search', status: 'completed', tool_call_id: 'call-1', output: { hits: 3 } })
  stream.write('3 hits.')
  await stream.end()
  await until(() => received.length === 6)
  t.same(received.map((event) => event.type), ['delta', 'tool_call', 'delta', 'tool_call', 'delta', 'result'])
  t.same(seqs(received), range(1, 6))
  t.same(
    received.map((event) => (event.type === 'delta' ? event.data.text : undefined)),
    ['Let me check. ', undefined, 'Found ', undefined, '3 hits.', undefined],
    'end() records the pending text first',
  )
  t.match(received[3], { data: { tool_call_id: 'call-1', output: { hits: 3 } } }, 'tool calls carry tool_call_id, input and output')
  t.equal((received[5] as Received & { data: { content: string } }).data.content, 'Let me check. Found 3 hits.')
  // A different workflow's streams are left alone: its pending text waits for its own window.
  const other = events.stream('other', { kind: 'thought' })
  other.write('pending')
  await events.emitThought('wf', 'unrelated')
  t.same((await events.history('other')).events, [], 'another workflow\'s event does not flush this one')
  await other.end()
})

t.test('two streams in one workflow at once: each message rebuilds from its own deltas', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 5 } })
  const { received } = await follower(t, server)
  const thought = server.app.agentEvents.stream('wf', { kind: 'thought', messageId: 'think' })
  const answer = server.app.agentEvents.stream('wf', { kind: 'result', messageId: 'say' })
  let thoughtText = ''
  let answerText = ''
  for (let i = 0; i < 40; i++) {
    thoughtText += `t${i};`
    answerText += `a${i};`
    thought.write(`t${i};`)
    answer.write(`a${i};`)
    if (i % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 8))
  }
  t.throws(() => server.app.agentEvents.stream('wf', { kind: 'result', messageId: 'say' }), { code: 'FST_AGENT_EVENTS_INVALID_EVENT' }, 'a message id open in the workflow is refused')
  await thought.end()
  await answer.end()
  await until(() => received.some((event) => event.type === 'result'))
  t.same(seqs(received), range(1, received.length), 'one seq order for both')
  t.equal(textOf(received, 'think'), thoughtText)
  t.equal(textOf(received, 'say'), answerText)
  t.ok(deltas(received).length < 80, `writes were merged (${deltas(received).length} deltas for 80 writes)`)
})

t.test('a reconnect mid-stream with afterSeq gets exactly the deltas it missed, then live ones', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 0 } })
  const first = await follower(t, server)
  const stream = server.app.agentEvents.stream('wf', { kind: 'result', messageId: 'm' })
  for (let i = 0; i < 10; i++) stream.write(`${i},`)
  await until(() => first.received.length === 10)
  first.socket.disconnect()
  for (let i = 10; i < 25; i++) stream.write(`${i},`)
  const second = await follower(t, server, { afterSeq: 10, epoch: first.ack.epoch })
  t.match(second.ack, { lastSeq: 25, replayed: 15, truncated: false })
  t.same(seqs(second.received), range(11, 25), 'exactly the missing deltas, before the ack')
  stream.write('25,')
  await stream.end()
  await until(() => second.received.length === 17)
  t.same(seqs(second.received), range(11, 27))
  const all = [...first.received, ...second.received]
  t.equal(textOf(all, 'm'), range(0, 25).map((i) => `${i},`).join(''), 'the text is whole across the reconnect')
})

t.test('compact: a message still streaming replays as one merged delta, then goes on live', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 0 } })
  const events = server.app.agentEvents
  const stream = events.stream('wf', { kind: 'result', messageId: 'm' })
  await events.emitThought('wf', 'before the answer')
  for (let i = 0; i < 30; i++) {
    stream.write(`w${i} `)
    if (i === 14) await events.emitToolCall('wf', { tool_name: 'lookup', status: 'completed' })
  }
  // seq: 1 thought, 2..16 deltas, 17 tool call, 18..32 deltas.
  const { received, ack } = await follower(t, server, { afterSeq: 0, compact: true })
  t.match(ack, { lastSeq: 32, replayed: 3, compacted: 29, truncated: false })
  t.same(received.map((event) => [event.type, event.seq]), [['thought', 1], ['tool_call', 17], ['delta', 32]], 'seq rises; it skips')
  t.equal(textOf(received, 'm'), range(0, 29).map((i) => `w${i} `).join(''), 'the merged delta holds all the text so far')
  t.equal(received[2]?.id, (await events.history('wf', { afterSeq: 31 })).events[0]?.id, 'the merged delta is the last one, text aside')
  stream.write('live')
  await until(() => received.length === 4)
  t.match(received[3], { type: 'delta', seq: 33, data: { text: 'live' } }, 'live deltas are never merged')
  const final = await stream.end()
  await until(() => received.length === 5)
  t.equal(textOf(received, 'm'), (final.data as { content: string }).content, 'merged + live deltas = the final text')
})

t.test('compact: a finished message replays as its final event only', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 0 }, replay: { maxEvents: 5000 } })
  const stream = server.app.agentEvents.stream('wf', { kind: 'result' })
  for (let i = 0; i < 2000; i++) stream.write('tok ')
  const final = await stream.end({ status: 'success' })
  const { received, ack } = await follower(t, server, { afterSeq: 0, compact: true })
  t.match(ack, { lastSeq: 2001, replayed: 1, compacted: 2000 })
  t.same(received, [final], 'one event: the result with the whole text')
  const full = await follower(t, server, { afterSeq: 0 })
  t.match(full.ack, { replayed: 2001 }, 'without compact, every delta')
  t.notOk('compacted' in full.ack, 'and no compacted in the ack')
  const history = await server.app.agentEvents.history('wf', { compact: true })
  t.same(history.events, [final], 'history({ compact }) agrees')
  t.equal(history.compacted, 2000)
  t.equal(history.lastSeq, 2001)
})

t.test('compact merges an aborted message\'s deltas (its error carries no text)', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 0 } })
  const stream = server.app.agentEvents.stream('wf', { kind: 'thought', messageId: 'm' })
  for (const word of ['one ', 'two ', 'three']) stream.write(word)
  const error = await stream.abort({ code: 'CANCELLED', message: 'the user stopped the run' })
  t.same(error.data, { code: 'CANCELLED', message: 'the user stopped the run', messageId: 'm', kind: 'thought' })
  t.throws(() => stream.write('more'), { code: 'FST_AGENT_EVENTS_STREAM_ENDED' }, 'a write after abort throws')
  await t.rejects(stream.end(), { code: 'FST_AGENT_EVENTS_STREAM_ENDED' })
  await t.rejects(stream.abort({ code: 'X', message: 'again' }), { code: 'FST_AGENT_EVENTS_STREAM_ENDED' })
  const { received, ack } = await follower(t, server, { afterSeq: 0, compact: true })
  t.match(ack, { replayed: 2, compacted: 2 })
  t.same(received.map((event) => [event.type, event.seq]), [['delta', 3], ['error', 4]])
  t.equal(textOf(received, 'm'), 'one two three')
})

t.test('fastify.close() ends a stream never ended with agent:error, before server:shutdown', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 1000 } })
  const { socket, received } = await follower(t, server)
  const order: string[] = []
  socket.onAny((name: string) => order.push(name))
  const stream = server.app.agentEvents.stream('wf', { kind: 'result', messageId: 'unfinished' })
  stream.write('half an ans')
  const shutdown = waitFor(socket, 'server:shutdown')
  await server.app.close()
  await shutdown
  t.same(order, ['agent:delta', 'agent:error', 'server:shutdown'], 'pending text, then the error, then the notice')
  t.match(received[1], { type: 'error', data: { code: 'SERVER_CLOSING', messageId: 'unfinished' } })
  t.throws(() => stream.write('wer'), { code: 'FST_AGENT_EVENTS_STREAM_ENDED' })
  t.throws(() => server.app.agentEvents.stream('wf', { kind: 'result' }), { code: 'FST_AGENT_EVENTS_STREAM_ENDED' }, 'no new stream once closing')
})

t.test('maxEventBytes: long text is split across deltas, a final event over the limit is refused with a coded error', async (t) => {
  const limit = 4096
  const server = await startServer(t, { rateLimit: false, maxEventBytes: limit, streaming: { windowMs: 50 } })
  const { received } = await follower(t, server)
  const stream = server.app.agentEvents.stream('wf', { kind: 'result', messageId: 'long' })
  // Quotes and control characters grow in JSON; an emoji is a surrogate pair that must not be cut.
  const text = 'a"\u0001😀é'.repeat(2000)
  stream.write(text.slice(0, 5000))
  stream.write(text.slice(5000))
  await t.rejects(stream.end(), { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE', limit }, 'end() says the whole message did not fit')
  await until(() => received.some((event) => event.type === 'error'))
  const pieces = deltas(received)
  t.ok(pieces.length > 1, `split into ${pieces.length} deltas`)
  t.equal(textOf(received, 'long'), text, 'the deltas carry the whole text, no pair cut')
  for (const piece of pieces) {
    if (Buffer.byteLength(JSON.stringify(piece)) > limit) t.fail(`delta ${piece.seq} is over the limit`)
  }
  t.match(received.at(-1), { type: 'error', data: { code: 'MESSAGE_TOO_LARGE', messageId: 'long' } }, 'the message is ended for every client')
  const compacted = await follower(t, server, { afterSeq: 0, compact: true })
  t.equal(textOf(compacted.received, 'long'), text, 'a compacted replay keeps the text whole')
  t.ok(deltas(compacted.received).length <= pieces.length, 'in no more deltas')
  for (const piece of deltas(compacted.received)) {
    if (Buffer.byteLength(JSON.stringify(piece)) > limit) t.fail(`merged delta ${piece.seq} is over the limit`)
  }
  t.same(seqs(compacted.received), [...seqs(compacted.received)].sort((a, b) => a - b), 'in seq order')
})

t.test('bad input is refused with a coded error and loses nothing', async (t) => {
  const server = await startServer(t, { rateLimit: false, streaming: { windowMs: 0 } })
  const events = server.app.agentEvents
  t.throws(() => events.stream('bad id', { kind: 'result' }), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', validation: [{ field: 'workflowId' }] })
  t.throws(() => events.stream('wf', { kind: 'tool_call' as never }), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', validation: [{ field: 'kind' }] })
  t.throws(() => events.stream('wf', { kind: 'result', messageId: 'no spaces' }), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', validation: [{ field: 'messageId' }] })
  const stream = events.stream('wf', { kind: 'result', messageId: 'm' })
  t.throws(() => stream.write(42 as never), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', validation: [{ field: 'text' }] })
  stream.write('kept')
  await t.rejects(stream.end({ content: 'other' } as never), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', validation: [{ field: 'extraData.content' }] })
  await t.rejects(stream.end({ status: 5 } as never), { code: 'FST_AGENT_EVENTS_INVALID_EVENT', validation: [{ field: 'data.status' }] }, 'the final event is validated')
  await t.rejects(stream.abort({ code: '' } as never), { code: 'FST_AGENT_EVENTS_INVALID_EVENT' })
  stream.write(' and more')
  const final = await stream.end({ status: 'success' })
  t.equal((final.data as { content: string }).content, 'kept and more', 'the stream stayed open through every refusal')
  const { events: recorded } = await events.history('wf')
  t.same(recorded.map((event) => event.type), ['delta', 'delta', 'result'], 'nothing was recorded by the refused calls')
})

t.test('the streaming option is checked at registration', async (t) => {
  for (const streaming of [{ windowMs: -1 }, { windowMs: 1.5 }, { windowMs: 10_001 }, { windowMs: '40' }, { window: 40 }, 'fast']) {
    await t.rejects(startServer(t, { streaming } as never), { code: 'FST_AGENT_EVENTS_INVALID_OPTION' }, JSON.stringify(streaming))
  }
})

t.test('compact cuts a long run of small deltas into merged deltas that each fit maxEventBytes', async (t) => {
  const limit = 1024
  const server = await startServer(t, { rateLimit: false, maxEventBytes: limit, streaming: { windowMs: 0 } })
  const stream = server.app.agentEvents.stream('wf', { kind: 'result', messageId: 'm' })
  let text = ''
  for (let i = 0; i < 300; i++) {
    const chunk = `chunk ${String(i).padStart(3, '0')} "q" `
    text += chunk
    stream.write(chunk)
  }
  const { received, ack } = await follower(t, server, { afterSeq: 0, compact: true })
  const merged = deltas(received)
  t.ok(merged.length > 1 && merged.length < 20, `300 deltas merged into ${merged.length}`)
  t.equal(ack.compacted, 300 - merged.length)
  t.equal(textOf(received, 'm'), text, 'all the text, in order')
  for (const delta of merged) {
    if (Buffer.byteLength(JSON.stringify(delta)) > limit) t.fail(`merged delta ${delta.seq} is over the limit`)
  }
  t.equal(merged.at(-1)?.seq, 300, 'the last merged delta has the last seq')
  await t.rejects(stream.end(), { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE' }, 'the whole text does not fit one event')
})

t.test('redis store: deltas, ordering and compact replay across two nodes', async (t) => {
  if (!redisAvailable(t)) return
  const redis = await startRedis(t)
  const nodes = await Promise.all([0, 1].map(async () => {
    const client = redis.client(t, { maxRetriesPerRequest: 1, commandTimeout: 1000 })
    const store = redisReplayStore({ client, keyPrefix: `streaming:${redis.port}:` })
    t.teardown(() => store.close())
    return startServer(t, { rateLimit: false, replay: { store }, streaming: { windowMs: 10 } })
  }))
  const [writer, reader] = nodes as [TestServer, TestServer]
  const live = await follower(t, reader)
  const stream = writer.app.agentEvents.stream('wf', { kind: 'result', messageId: 'm' })
  let text = ''
  for (let i = 0; i < 100; i++) {
    text += `${i} `
    stream.write(`${i} `)
    if (i === 50) await writer.app.agentEvents.emitToolCall('wf', { tool_name: 'search', status: 'completed' })
    if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 15))
  }
  const mid = await follower(t, reader, { afterSeq: 0, compact: true })
  const replayed = mid.received.filter((event) => event.seq <= mid.ack.lastSeq)
  t.same(deltas(replayed).length, 1, 'a subscriber arriving mid-stream gets one merged delta (then live ones)')
  t.same(mid.received.filter((event) => event.type === 'tool_call').length, 1)
  const final = await stream.end()
  await until(() => live.received.some((event) => event.type === 'result'))
  t.same(seqs(live.received), range(1, live.received.length), 'the other node hears every event in order')
  t.equal(textOf(live.received, 'm'), text)
  t.equal((final.data as { content: string }).content, text)
  await until(() => mid.received.some((event) => event.type === 'result'))
  t.equal(textOf(mid.received, 'm'), text, 'merged then live deltas make the whole text')
  const after = await follower(t, reader, { afterSeq: 0, compact: true })
  t.same(after.received.map((event) => event.type), ['tool_call', 'result'], 'a finished message replays as its result')
})

t.test('a store that fails a delta (rejecting, or throwing at once) costs the write nothing: it is logged', async (t) => {
  const memory = memoryReplayStore()
  let failure: 'reject' | 'throw' | undefined
  const store: ReplayStore = {
    append(event) {
      if (failure === 'throw') throw new Error('store down at once')
      if (failure === 'reject') return Promise.reject(new Error('store down'))
      return memory.append(event)
    },
    read: (workflowId, options) => memory.read(workflowId, options),
    watch: (watcher) => memory.watch(watcher),
    close: () => memory.close(),
  }
  t.teardown(() => memory.close())
  const logs = new LogCapture()
  const server = await startServer(t, { rateLimit: false, replay: { store }, streaming: { windowMs: 0 } }, { logger: { level: 'error', stream: logs.stream } })
  const stream = server.app.agentEvents.stream('wf', { kind: 'result' })
  for (const mode of ['reject', 'throw'] as const) {
    failure = mode
    const logged = logs.next('event not recorded: replay store failed')
    t.doesNotThrow(() => stream.write(`lost while the store ${mode}s; `), `write() does not throw when the store ${mode}s`)
    t.match(await logged, { workflowId: 'wf', type: 'delta' }, 'the lost delta is logged')
  }
  failure = undefined
  stream.write('kept')
  const final = await stream.end()
  t.match(final.data, { content: 'lost while the store rejects; lost while the store throws; kept' }, 'the final event still carries the whole text')
  t.same((await server.app.agentEvents.history('wf')).events.map((event) => event.type), ['delta', 'result'])
})
