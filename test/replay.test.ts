import t from 'tap'
import { memoryReplayStore } from '../src/index.ts'
import { AGENT_EVENTS, collect, connectAs, range, request, seqs, startServer, until, waitFor, type SubscribeOk } from './helpers.ts'


async function emitMany(server: Awaited<ReturnType<typeof startServer>>, workflowId: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await server.app.agentEvents.emitThought(workflowId, `thought ${i}`)
}

t.test('afterSeq: 0 replays every recorded event before the ack, then live ones follow', async (t) => {
  const server = await startServer(t)
  await emitMany(server, 'wf', 5)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  const ack = await request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
  t.match(ack, { ok: true, workflowId: 'wf', lastSeq: 5, replayed: 5, truncated: false })
  t.same(seqs(received), range(1, 5), 'replayed events arrived before the ack, in order')
  await emitMany(server, 'wf', 2)
  await until(() => received.length === 7)
  t.same(seqs(received), range(1, 7))
})

t.test('afterSeq in the middle replays only what came after it', async (t) => {
  const server = await startServer(t)
  await emitMany(server, 'wf', 10)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  const ack = await request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 7 })
  t.match(ack, { lastSeq: 10, replayed: 3, truncated: false })
  t.same(seqs(received), [8, 9, 10])
})

t.test('afterSeq at or past the end replays nothing', async (t) => {
  const server = await startServer(t)
  await emitMany(server, 'wf', 3)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 3 }), { lastSeq: 3, replayed: 0, truncated: false })
  t.same(received, [])
})

t.test('without afterSeq the subscription is live only', async (t) => {
  const server = await startServer(t)
  await emitMany(server, 'wf', 3)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf' }), { lastSeq: 3, replayed: 0, truncated: false })
  await emitMany(server, 'wf', 1)
  await until(() => received.length === 1)
  t.same(seqs(received), [4])
})

t.test('events that left the buffer are reported as truncated', async (t) => {
  const server = await startServer(t, { replay: { maxEvents: 5 } })
  await emitMany(server, 'wf', 12)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  const ack = await request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 2 })
  t.match(ack, { lastSeq: 12, replayed: 5, truncated: true })
  t.same(seqs(received), range(8, 12), 'what is still held is replayed, in order')
  const late = await connectAs(t, server, 'u1')
  t.match(await request(late, 'agent:subscribe', { workflowId: 'wf', afterSeq: 7 }), { replayed: 5, truncated: false }, 'nothing after 7 was lost')
})

t.test('a changed epoch replays the whole buffer with truncated: true', async (t) => {
  const server = await startServer(t)
  await emitMany(server, 'wf', 4)
  const first = await connectAs(t, server, 'u1')
  const { epoch } = await request<SubscribeOk>(first, 'agent:subscribe', { workflowId: 'wf', afterSeq: 4 })
  t.type(epoch, 'string')
  const same = await connectAs(t, server, 'u1')
  t.match(await request(same, 'agent:subscribe', { workflowId: 'wf', afterSeq: 4, epoch }), { epoch, replayed: 0, truncated: false })

  const other = await connectAs(t, server, 'u1')
  const received = collect(other, AGENT_EVENTS)
  const ack = await request<SubscribeOk>(other, 'agent:subscribe', { workflowId: 'wf', afterSeq: 3, epoch: 'from-another-life' })
  t.match(ack, { epoch, lastSeq: 4, replayed: 4, truncated: true })
  t.same(seqs(received), range(1, 4))
})

t.test('a restarted store is a new epoch, and seq starts again at 1', async (t) => {
  const store = memoryReplayStore()
  const server = await startServer(t, { replay: { store } })
  await emitMany(server, 'wf', 3)
  const socket = await connectAs(t, server, 'u1')
  const { epoch } = await request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 3 })
  await store.close()
  t.teardown(() => store.close())

  const restarted = await startServer(t, { replay: { store: memoryReplayStore() } })
  await emitMany(restarted, 'wf', 2)
  const again = await connectAs(t, restarted, 'u1')
  const received = collect(again, AGENT_EVENTS)
  const ack = await request<SubscribeOk>(again, 'agent:subscribe', { workflowId: 'wf', afterSeq: 3, epoch })
  t.not(ack.epoch, epoch)
  t.match(ack, { lastSeq: 2, replayed: 2, truncated: true })
  t.same(seqs(received), [1, 2])
})

t.test('replay: false keeps seq numbers but replays nothing', async (t) => {
  const server = await startServer(t, { replay: false })
  await emitMany(server, 'wf', 3)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 }), { lastSeq: 3, replayed: 0, truncated: true })
  await emitMany(server, 'wf', 1)
  await until(() => received.length === 1)
  t.same(seqs(received), [4])
  t.same(await server.app.agentEvents.history('wf'), { events: [], lastSeq: 4, truncated: true })
})

t.test('history() pages through the buffer', async (t) => {
  const server = await startServer(t)
  await emitMany(server, 'wf', 25)
  const { agentEvents } = server.app
  const page = await agentEvents.history('wf', { afterSeq: 5, limit: 10 })
  t.same(seqs(page.events), range(6, 15))
  t.equal(page.lastSeq, 25)
  t.equal(page.truncated, false)
  t.same(seqs((await agentEvents.history('wf')).events), range(1, 25))
  t.same(await agentEvents.history('unknown'), { events: [], lastSeq: 0, truncated: false })
  await t.rejects(agentEvents.history('wf', { limit: 0 }), { code: 'FST_AGENT_EVENTS_INVALID_EVENT' })
  await t.rejects(agentEvents.history('wf', { afterSeq: -1 }), { code: 'FST_AGENT_EVENTS_INVALID_EVENT' })
  await t.rejects(agentEvents.history('bad id'), { code: 'FST_AGENT_EVENTS_INVALID_EVENT' })
})

t.test('events emitted while a subscriber catches up arrive exactly once, in order', async (t) => {
  const server = await startServer(t)
  await emitMany(server, 'wf', 50)
  for (let round = 0; round < 10; round++) {
    const socket = await connectAs(t, server, `u${round}`)
    const received = collect(socket, AGENT_EVENTS)
    const before = (await server.app.agentEvents.history('wf', { afterSeq: 0, limit: 1 })).lastSeq
    // Emit concurrently with the subscription, without awaiting in between.
    const emitting = Promise.all(Array.from({ length: 30 }, (_, i) => server.app.agentEvents.emitThought('wf', `during ${i}`)))
    const subscribed = request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: round * 3 })
    const more = Promise.all(Array.from({ length: 30 }, (_, i) => server.app.agentEvents.emitThought('wf', `after ${i}`)))
    await Promise.all([emitting, subscribed, more])
    const last = before + 60
    await until(() => received.length >= last - round * 3)
    await request(socket, 'agent:unsubscribe', { workflowId: 'other' })
    t.same(seqs(received), range(round * 3 + 1, last), `round ${round}: every event once, in order`)
    socket.disconnect()
  }
})

t.test('a workflow forgotten by the memory store while followed: followers are sent to resubscribe, never shown seq going back', async (t) => {
  const server = await startServer(t, { replay: { maxWorkflows: 1 } })
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  await request(socket, 'agent:subscribe', { workflowId: 'wf-a' })
  await server.app.agentEvents.emitThought('wf-a', 'first life')
  await until(() => received.length === 1)
  const { epoch } = await request<SubscribeOk>(await connectAs(t, server, 'u2'), 'agent:subscribe', { workflowId: 'wf-a', afterSeq: 1 })

  await server.app.agentEvents.emitThought('wf-b', 'pushes wf-a out of a one-workflow store')
  const disconnected = waitFor<string>(socket, 'disconnect')
  const restarted = await server.app.agentEvents.emitThought('wf-a', 'second life')
  t.equal(restarted.seq, 1)
  t.equal(await disconnected, 'transport close', 'the follower is disconnected so that it reconnects')
  t.same(seqs(received), [1], 'it never received seq 1 a second time')

  const again = await connectAs(t, server, 'u1')
  const replayed = collect(again, AGENT_EVENTS)
  const ack = await request<SubscribeOk>(again, 'agent:subscribe', { workflowId: 'wf-a', afterSeq: 1, epoch })
  t.not(ack.epoch, epoch)
  t.match(ack, { lastSeq: 1, replayed: 1, truncated: true })
  t.same(replayed.map((event) => event.data), [{ content: 'second life' }])
})

t.test('the epoch told before the first event is the one that event belongs to', async (t) => {
  const server = await startServer(t)
  const early = await connectAs(t, server, 'u1')
  const { epoch } = await request<SubscribeOk>(early, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
  // Other workflows come and go meanwhile.
  for (let i = 0; i < 5; i++) await server.app.agentEvents.emitThought(`other-${i}`, 'x')
  await emitMany(server, 'wf', 2)
  const later = await connectAs(t, server, 'u1')
  t.match(await request(later, 'agent:subscribe', { workflowId: 'wf', afterSeq: 1, epoch }), { epoch, replayed: 1, truncated: false })
})
