import t from 'tap'
import type { Socket as ClientSocket } from 'socket.io-client'
import { AGENT_EVENTS, collect, connectAs, request, until, waitFor, range, seqs, type SubscribeOk } from './helpers.ts'
import { linked, startRedisNode } from './redis-nodes.ts'
import { redisAvailable, startRedis } from './redis-server.ts'


/** Resolve when the server ends this client's connection (a transport close, so the client may reconnect). */
function disconnected(socket: ClientSocket): Promise<string> {
  return new Promise((resolve) => socket.once('disconnect', (reason) => resolve(reason)))
}

if (redisAvailable(t)) {
  t.test('Redis stopped mid-stream and restarted: emitters resolve, nothing crashes, delivery and replay resume in a new epoch', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const onA = await connectAs(t, a, 'alice')
    const onB = await connectAs(t, b, 'bob')
    const gotA = collect(onA, AGENT_EVENTS)
    const gotB = collect(onB, AGENT_EVENTS)
    const ackA = await request<SubscribeOk>(onA, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    await request<SubscribeOk>(onB, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    for (let i = 1; i <= 5; i++) await a.app.agentEvents.emitThought('wf', `before ${i}`)
    await until(() => gotA.length === 5 && gotB.length === 5)

    await redis.stop()
    const during = await Promise.all([
      a.app.agentEvents.emitThought('wf', 'during 1'),
      b.app.agentEvents.emitThought('wf', 'during 2'),
      a.app.agentEvents.emitToolCall('wf', { tool_name: 'search', status: 'pending' }),
    ])
    t.ok(during.every((event) => !('seq' in event)), 'emitters resolve with the unrecorded event')
    t.ok(a.logs.some((line) => line.msg === 'event not recorded: replay store failed'), 'the failure is logged')
    // Direct events to a socket of this node need no Redis: local clients still get them.
    const direct = waitFor<Record<string, unknown>>(onA, 'agent:thought')
    await a.app.agentEvents.emitThought('wf', 'only for this socket', { socketId: onA.id as string })
    t.same((await direct).data, { content: 'only for this socket' })
    await t.rejects(a.app.agentEvents.history('wf'), 'history() rejects while the store is unreachable')

    // The restarted Redis is empty: each workflow starts a new epoch at seq 1. Followers of the old
    // epoch must not see seq go back: once a node is linked again, it reads its workflows, finds
    // the new epoch and closes their connections so that they resubscribe, before any new event.
    const closedA = disconnected(onA)
    const closedB = disconnected(onB)
    await redis.start()
    t.equal(await closedA, 'transport close', 'node A closed its follower of the old epoch')
    t.equal(await closedB, 'transport close', 'node B too')
    await linked(t, redis)
    const firstOfNewEpoch = await b.app.agentEvents.emitThought('wf', 'after 1')
    t.match(firstOfNewEpoch, { seq: 1 })
    t.same(seqs(gotA.filter((event) => 'seq' in event)), range(1, 5), 'the old connection saw seq only rise')
    t.same(seqs(gotB), range(1, 5))

    // The client comes back on the other node with the epoch and seq of its last ack and events.
    const again = await connectAs(t, b, 'alice')
    const gotAgain = collect(again, AGENT_EVENTS)
    const ack = await request<SubscribeOk>(again, 'agent:subscribe', { workflowId: 'wf', afterSeq: 5, epoch: ackA.epoch })
    t.match(ack, { ok: true, truncated: true, lastSeq: 1, replayed: 1 }, 'told truncated: true, with the whole new buffer')
    t.not(ack.epoch, ackA.epoch, 'a new epoch')
    await a.app.agentEvents.emitThought('wf', 'after 2')
    await b.app.agentEvents.emitThought('wf', 'after 3')
    await until(() => gotAgain.length === 3)
    t.same(seqs(gotAgain), [1, 2, 3], 'delivery resumed across both nodes')
    t.same(gotAgain[0], firstOfNewEpoch)
  })

  t.test('after FLUSHALL a client with the old epoch is told truncated: true', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const first = await connectAs(t, b, 'carol')
    const seen = collect(first, AGENT_EVENTS)
    const ack1 = await request<SubscribeOk>(first, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    for (let i = 1; i <= 3; i++) await a.app.agentEvents.emitThought('wf', `old ${i}`)
    await until(() => seen.length === 3)
    first.disconnect()
    await redis.client(t).flushall()
    await a.app.agentEvents.emitThought('wf', 'new 1')
    await a.app.agentEvents.emitThought('wf', 'new 2')

    const second = await connectAs(t, b, 'carol')
    const replayed = collect(second, AGENT_EVENTS)
    const ack2 = await request<SubscribeOk>(second, 'agent:subscribe', { workflowId: 'wf', afterSeq: 3, epoch: ack1.epoch })
    t.match(ack2, { ok: true, truncated: true, lastSeq: 2, replayed: 2 })
    t.not(ack2.epoch, ack1.epoch)
    t.same(seqs(replayed), [1, 2])
    t.same(replayed.map((event) => event.data), [{ content: 'new 1' }, { content: 'new 2' }])
  })

  t.test('Redis too slow to answer: the emitter settles after the store timeout, and a late write keeps seq order', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const onA = await connectAs(t, a, 'alice')
    const onB = await connectAs(t, b, 'bob')
    const gotA = collect(onA, AGENT_EVENTS)
    const gotB = collect(onB, AGENT_EVENTS)
    await request(onA, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    await request(onB, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    for (let i = 1; i <= 3; i++) await a.app.agentEvents.emitThought('wf', `n${i}`)
    const admin = redis.client(t)
    // Redis stays connected but answers nothing that writes: the store's timeout (1 s here) ends the wait.
    await admin.client('PAUSE', 30_000, 'WRITE')
    const stalled = await a.app.agentEvents.emitThought('wf', 'n4')
    t.notOk('seq' in stalled, 'resolved unrecorded after the timeout')
    await admin.client('UNPAUSE')
    // The paused write still runs once Redis resumes: it takes seq 4, before the next event.
    const next = await a.app.agentEvents.emitThought('wf', 'n5')
    t.match(next, { seq: 5 })
    await until(() => gotA.length === 5 && gotB.length === 5)
    t.same(seqs(gotA), range(1, 5), 'node A repaired the hole from Redis, in order')
    t.same(gotB, gotA)
  })

  t.test('a node whose pub/sub link broke catches up from Redis when it is back, without waiting for the next event', async (t) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis)
    const b = await startRedisNode(t, redis)
    const onB = await connectAs(t, b, 'bob')
    const gotB = collect(onB, AGENT_EVENTS)
    await request(onB, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    for (let i = 1; i <= 3; i++) await a.app.agentEvents.emitThought('wf', `n${i}`)
    await until(() => gotB.length === 3)
    // Redis drops every subscriber connection; the events that follow are published to nobody.
    await redis.client(t).call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    for (let i = 4; i <= 8; i++) await a.app.agentEvents.emitThought('wf', `n${i}`)
    await until(() => gotB.length === 8)
    t.same(seqs(gotB), range(1, 8), 'every event once, in order, and nothing else emitted after')
  })
}
