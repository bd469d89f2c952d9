import { once } from 'node:events'
import t from 'tap'
import { redisReplayStore, type RecordedAgentEvent, type UnrecordedAgentEvent } from '../src/index.ts'
import { redisAvailable, startRedis } from './redis-server.ts'

const thought = (workflowId: string, content: string): UnrecordedAgentEvent => ({
  type: 'thought',
  workflowId,
  data: { content },
  timestamp: new Date().toISOString(),
})

if (redisAvailable(t)) {
  t.test('append assigns seq atomically: concurrent appends from two stores get 1..N once each', async (t) => {
    const redis = await startRedis(t)
    const a = redisReplayStore({ client: redis.client(t), keyPrefix: 'p:' })
    const b = redisReplayStore({ client: redis.client(t), keyPrefix: 'p:' })
    t.teardown(() => Promise.all([a.close(), b.close()]))
    const appends: Promise<RecordedAgentEvent>[] = []
    for (let i = 0; i < 100; i++) appends.push((i % 2 === 0 ? a : b).append(thought('wf', `n${i}`)))
    const recorded = await Promise.all(appends)
    t.same(recorded.map((event) => event.seq).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1))
    t.equal(new Set(recorded.map((event) => event.id)).size, 100, 'every id is unique')
    const range = await b.read('wf', { afterSeq: 0, limit: 1000 })
    t.equal(range.lastSeq, 100)
    t.same(range.events.map((event) => event.seq), Array.from({ length: 100 }, (_, i) => i + 1))
    const bySeq = new Map(recorded.map((event) => [event.seq, event]))
    t.same(range.events, range.events.map((event) => bySeq.get(event.seq)), 'stored events equal the events append resolved with')
    t.same(Object.keys(range.events[0] ?? {}), ['type', 'workflowId', 'data', 'timestamp', 'seq', 'id'])
  })

  t.test('the buffer keeps the last maxEvents; reads page and report truncation', async (t) => {
    const redis = await startRedis(t)
    const store = redisReplayStore({ client: redis.client(t), maxEvents: 5 })
    t.teardown(() => store.close())
    for (let i = 1; i <= 12; i++) await store.append(thought('wf', `n${i}`))
    const all = await store.read('wf', { afterSeq: 0, limit: 100 })
    t.same(all.events.map((event) => event.seq), [8, 9, 10, 11, 12])
    t.equal(all.truncated, true, 'events 1..7 left the buffer')
    const page = await store.read('wf', { afterSeq: 8, limit: 2 })
    t.same(page.events.map((event) => event.seq), [9, 10])
    t.equal(page.truncated, false)
    const tail = await store.read('wf', { afterSeq: 12, limit: 10 })
    t.same(tail, { events: [], lastSeq: 12, epoch: all.epoch, truncated: false })
    const live = await store.read('wf', { afterSeq: Number.MAX_SAFE_INTEGER, limit: 0 })
    t.equal(live.lastSeq, 12)
    t.equal(await redis.client(t).llen('agent-events:{wf}:events'), 5, 'Redis holds no more than maxEvents')
  })

  t.test('an unknown workflow reads as empty, with an epoch that its first event keeps', async (t) => {
    const redis = await startRedis(t)
    const store = redisReplayStore({ client: redis.client(t) })
    t.teardown(() => store.close())
    const before = await store.read('fresh', { afterSeq: 0, limit: 10 })
    t.same({ ...before, epoch: '' }, { events: [], lastSeq: 0, epoch: '', truncated: false })
    await store.append(thought('fresh', 'first'))
    const after = await store.read('fresh', { afterSeq: 0, limit: 10 })
    t.equal(after.epoch, before.epoch)
    t.equal(after.lastSeq, 1)
  })

  t.test('TTL is refreshed on every write and the workflow expires when idle, with a new epoch after', async (t) => {
    const redis = await startRedis(t)
    const inspect = redis.client(t)
    const store = redisReplayStore({ client: redis.client(t), ttl: 60_000 })
    t.teardown(() => store.close())
    await store.append(thought('wf', 'a'))
    const first = await store.read('wf', { afterSeq: 0, limit: 10 })
    await inspect.pexpire('agent-events:{wf}:meta', 5_000)
    await store.append(thought('wf', 'b'))
    t.ok((await inspect.pttl('agent-events:{wf}:meta')) > 50_000, 'the write set the TTL back to the full ttl')
    t.ok((await inspect.pttl('agent-events:{wf}:events')) > 50_000, 'on the events too')
    // An expired workflow is a missing one: its next life starts at seq 1 in a new epoch.
    await inspect.del('agent-events:{wf}:meta', 'agent-events:{wf}:events')
    const next = await store.append(thought('wf', 'c'))
    t.equal(next.seq, 1)
    const range = await store.read('wf', { afterSeq: 2, limit: 10 })
    t.not(range.epoch, first.epoch)
  })

  t.test('FLUSHALL starts a new epoch and drops an orphaned list', async (t) => {
    const redis = await startRedis(t)
    const inspect = redis.client(t)
    const store = redisReplayStore({ client: redis.client(t) })
    t.teardown(() => store.close())
    await store.append(thought('wf', 'a'))
    const before = await store.read('wf', { afterSeq: 0, limit: 10 })
    await inspect.flushall()
    const after = await store.read('wf', { afterSeq: 1, limit: 10 })
    t.not(after.epoch, before.epoch)
    t.equal(after.lastSeq, 0)
    // Only the epoch survives an eviction policy that drops the meta hash: the list must not leak into the new life.
    await inspect.rpush('agent-events:{orphan}:events', '{"stale":true}')
    const recorded = await store.append(thought('orphan', 'fresh'))
    const orphan = await store.read('orphan', { afterSeq: 0, limit: 10 })
    t.same(orphan.events, [recorded])
  })

  t.test('watchers hear events recorded by other stores, in seq order, with their epoch', async (t) => {
    const redis = await startRedis(t)
    const a = redisReplayStore({ client: redis.client(t) })
    const b = redisReplayStore({ client: redis.client(t) })
    t.teardown(() => Promise.all([a.close(), b.close()]))
    const heardByB: { seq: number; epoch: string }[] = []
    const errors: Error[] = []
    const ready = redis.client(t)
    const stop = b.watch!({ onEvent: (event, epoch) => heardByB.push({ seq: event.seq, epoch }), onError: (error) => errors.push(error) })
    // The subscription is confirmed once Redis counts a subscriber on the channel.
    while (((await ready.pubsub('NUMSUB', 'agent-events:recorded')) as [string, number])[1] === 0) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    for (let i = 0; i < 20; i++) await a.append(thought('wf', `n${i}`))
    const own = await b.append(thought('wf', 'from b'))
    const epoch = (await a.read('wf', { afterSeq: 0, limit: 1 })).epoch
    while (heardByB.length < 21) await new Promise((resolve) => setImmediate(resolve))
    t.same(heardByB.map((entry) => entry.seq), Array.from({ length: 21 }, (_, i) => i + 1))
    t.ok(heardByB.every((entry) => entry.epoch === epoch))
    t.equal(own.seq, 21, "the store's own append reaches its own watcher too")
    await stop()
    t.same(errors, [])
  })

  t.test('close() never closes the client it was given', async (t) => {
    const redis = await startRedis(t)
    const client = redis.client(t)
    const store = redisReplayStore({ client })
    const stop = store.watch!({ onEvent: () => {}, onError: () => {} })
    await store.append(thought('wf', 'a'))
    await stop()
    await store.close()
    t.equal(await client.ping(), 'PONG')
    await t.rejects(store.append(thought('wf', 'b')), /closed/)
  })

  t.test('bad options are refused with a clear error', async (t) => {
    t.throws(() => redisReplayStore({} as never), /client must be an ioredis client/)
    const redis = await startRedis(t)
    const client = redis.client(t)
    t.throws(() => redisReplayStore({ client, maxEvents: -1 }), /maxEvents/)
    t.throws(() => redisReplayStore({ client, ttl: 'soon' }), /ttl/)
    t.throws(() => redisReplayStore({ client, timeout: 0 }), /timeout/)
  })

  t.test('while Redis is down, calls fail within the timeout instead of waiting', async (t) => {
    const redis = await startRedis(t)
    const client = redis.client(t)
    const store = redisReplayStore({ client, timeout: 500 })
    t.teardown(() => store.close())
    await store.append(thought('wf', 'a'))
    await redis.stop()
    // Down means the client has seen the connection go: a command written just before that would
    // be resent by ioredis after the restart, which is another test (the late write stays in order).
    if (client.status === 'ready') await once(client, 'close')
    await t.rejects(store.append(thought('wf', 'b')), /redisReplayStore/)
    await t.rejects(store.read('wf', { afterSeq: 0, limit: 10 }), /redisReplayStore/)
    await redis.start()
    // ioredis reconnects by itself; the restarted Redis is empty and has no cached script.
    if (client.status !== 'ready') await once(client, 'ready')
    const recorded = await store.append(thought('wf', 'c'))
    t.equal(recorded.seq, 1)
  })
}
