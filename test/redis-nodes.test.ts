import t from 'tap'
import type { RecordedAgentEvent } from '../src/index.ts'
import { Writable } from 'node:stream'
import { createAdapter } from '@socket.io/redis-adapter'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until, waitFor, range, seqs, type SubscribeOk } from './helpers.ts'
import { startRedisNode } from './redis-nodes.ts'
import { redisAvailable, startRedis } from './redis-server.ts'


if (redisAvailable(t)) {
  t.test('a client on node B gets every event emitted on node A, in order', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const onB = await connectAs(t, b, 'bob')
    const onA = await connectAs(t, a, 'alice')
    const gotB = collect(onB, AGENT_EVENTS)
    const gotA = collect(onA, AGENT_EVENTS)
    t.match(await request(onB, 'agent:subscribe', { workflowId: 'wf' }), { ok: true, lastSeq: 0 })
    t.match(await request(onA, 'agent:subscribe', { workflowId: 'wf' }), { ok: true, lastSeq: 0 })
    const sent: RecordedAgentEvent[] = []
    for (let i = 1; i <= 30; i++) {
      sent.push((await a.app.agentEvents.emitToolCall('wf', { tool_name: 'search', status: 'in_progress', step: i })) as RecordedAgentEvent)
    }
    await until(() => gotB.length >= 30 && gotA.length >= 30)
    t.same(seqs(gotB), range(1, 30))
    t.same(gotB, sent, 'node B sends exactly the events that node A resolved with')
    t.same(gotA, sent)
  })

  t.test('direct events reach a user connected to another node through the Socket.IO adapter', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const onB = await connectAs(t, b, 'bob')
    const got = waitFor<Record<string, unknown>>(onB, 'agent:thought')
    await a.app.agentEvents.emitThought('wf', 'just for bob', { userId: 'bob' })
    const event = await got
    t.same(Object.keys(event), ['type', 'workflowId', 'data', 'timestamp'], 'a direct event has no seq or id')
    t.same(event.data, { content: 'just for bob' })
  })

  t.test('a client that reconnects to the other node replays from Redis with no gap and no duplicate', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const first = await connectAs(t, a, 'carol')
    const seen: Record<string, unknown>[] = []
    first.on('agent:thought', (event: Record<string, unknown>) => seen.push(event))
    const ack1 = await request<SubscribeOk>(first, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    for (let i = 1; i <= 10; i++) await a.app.agentEvents.emitThought('wf', `step ${i}`)
    await until(() => seen.length === 10)
    first.disconnect()
    for (let i = 11; i <= 20; i++) await a.app.agentEvents.emitThought('wf', `step ${i}`)

    const second = await connectAs(t, b, 'carol')
    second.on('agent:thought', (event: Record<string, unknown>) => seen.push(event))
    // Events keep coming from node A while the client subscribes on node B.
    const emitting = (async () => {
      for (let i = 21; i <= 40; i++) await a.app.agentEvents.emitThought('wf', `step ${i}`)
    })()
    const ack2 = await request<SubscribeOk>(second, 'agent:subscribe', { workflowId: 'wf', afterSeq: 10, epoch: ack1.epoch })
    await emitting
    await until(() => seen.length === 40)
    t.same(seqs(seen), range(1, 40), 'every event once, in order')
    t.equal(ack2.epoch, ack1.epoch, 'both nodes report the same epoch')
    t.equal(ack2.truncated, false)
    t.ok(ack2.replayed >= 10, 'events 11..20 came from Redis')
    t.same(await b.app.agentEvents.history('wf', { afterSeq: 38 }), {
      events: seen.slice(38),
      lastSeq: 40,
      truncated: false,
    }, 'history() on either node reads the shared buffer')
  })

  t.test('two emitters on two nodes into one workflow: every subscriber gets the same strictly increasing sequence', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const subscribers = await Promise.all([
      connectAs(t, a, 'u1'), connectAs(t, a, 'u2'), connectAs(t, b, 'u3'), connectAs(t, b, 'u4'),
    ])
    const received = subscribers.map((socket) => collect(socket, AGENT_EVENTS))
    for (const socket of subscribers) t.match(await request(socket, 'agent:subscribe', { workflowId: 'shared', afterSeq: 0 }), { ok: true })
    const perNode = 60
    const emitter = async (node: typeof a, name: string): Promise<void> => {
      for (let i = 0; i < perNode; i++) await node.app.agentEvents.emitThought('shared', `${name}-${i}`)
    }
    // Both run at once: their appends interleave in Redis, and each node also gets the other's through pub/sub.
    await Promise.all([emitter(a, 'a'), emitter(b, 'b'), emitter(a, 'a2'), emitter(b, 'b2')])
    const total = perNode * 4
    await until(() => received.every((events) => events.length >= total), 10_000)
    const reference = received[0] ?? []
    t.same(seqs(reference), range(1, total), 'strictly increasing, no gap, no duplicate')
    for (const [index, events] of received.entries()) {
      t.same(events, reference, `subscriber ${index + 1} got the identical sequence of events`)
    }
  })

  t.test('the Redis adapter with the in-memory store is warned about at start', async (t) => {
    const redis = await startRedis(t)
    const lines: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString())
        done()
      },
    })
    await startServer(t, {
      socketio: { adapter: createAdapter(redis.client(t, { maxRetriesPerRequest: null }), redis.client(t, { maxRetriesPerRequest: null })) },
    }, { logger: { level: 'warn', stream } })
    t.ok(lines.some((line) => line.includes('socketio.adapter is set but the replay store is this process')))
  })
}
