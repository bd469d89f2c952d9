// redisReplayStore on every client the peer ranges accept, against one real redis-server: ioredis 5
// and 6 (RESP2, and RESP3 on 6), node-redis 5.0 and 6 (RESP2 and RESP3 each). The cluster clients
// run in the redis-cluster*.test.ts suites.
import { once } from 'node:events'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { Redis as Redis5 } from 'ioredis-v5'
import { createClient } from 'redis'
import { createClient as createClient5 } from 'redis-v5'
import { redisReplayStore, type RecordedAgentEvent, type RedisReplayStoreOptions, type UnrecordedAgentEvent } from '../src/index.ts'
import { redisAvailable, type RedisServer, startRedis } from './redis-server.ts'

const thought = (workflowId: string, content: string): UnrecordedAgentEvent => ({
  type: 'thought',
  workflowId,
  data: { content },
  timestamp: new Date().toISOString(),
})

interface Flavour {
  name: string
  client(t: Test, redis: RedisServer): Promise<RedisReplayStoreOptions['client']>
}

const retryDelay = (times: number): number => Math.min(times * 50, 500)

function ioredis(major: 5 | 6, protocol: 2 | 3): Flavour {
  return {
    name: `ioredis ${major} RESP${protocol}`,
    async client(t, redis) {
      const options = { port: redis.port, host: '127.0.0.1', retryStrategy: retryDelay, maxRetriesPerRequest: 1, ...(protocol === 3 ? { protocol: 3 as const } : {}) }
      const client = major === 5 ? new Redis5(options) : new Redis(options)
      client.on('error', () => {})
      t.teardown(() => client.quit().catch(() => {}).then(() => client.disconnect()))
      if (client.status !== 'ready') await once(client, 'ready')
      return client
    },
  }
}

function nodeRedis(major: 5 | 6, resp: 2 | 3): Flavour {
  return {
    name: `node-redis ${major} RESP${resp}`,
    async client(t, redis) {
      const create = major === 5 ? (createClient5 as unknown as typeof createClient) : createClient
      // As the README's recipe: no offline queue, so that a command sent while Redis is away fails now.
      const client = create({ url: redis.url, RESP: resp, disableOfflineQueue: true, socket: { reconnectStrategy: retryDelay } })
      client.on('error', () => {})
      await client.connect()
      t.teardown(async () => {
        if (client.isOpen) await client.close().catch(() => {})
      })
      return client
    },
  }
}

const FLAVOURS = [ioredis(5, 2), ioredis(6, 2), ioredis(6, 3), nodeRedis(5, 2), nodeRedis(5, 3), nodeRedis(6, 2), nodeRedis(6, 3)]

if (redisAvailable(t)) {
  t.test('a client of neither library is refused with a clear error', async (t) => {
    t.throws(() => redisReplayStore({ client: {} as never }), { name: 'TypeError', message: /ioredis client .* or a node-redis one/ })
    t.throws(() => redisReplayStore({ client: { evalSha() {}, eval() {}, duplicate() {} } as never }), { name: 'TypeError' })
  })

  for (const flavour of FLAVOURS) {
    t.test(`${flavour.name}: seq is atomic across two stores, reads page, and the other store hears every event in order per source`, async (t) => {
      const redis = await startRedis(t)
      const a = redisReplayStore({ client: await flavour.client(t, redis), keyPrefix: 'p:', maxEvents: 50 })
      const b = redisReplayStore({ client: await flavour.client(t, redis), keyPrefix: 'p:', maxEvents: 50 })
      t.teardown(() => Promise.all([a.close(), b.close()]))
      const heard: { seq: number; epoch: string }[] = []
      const subscribed = b.watch({ onEvent: (event, epoch) => heard.push({ seq: event.seq, epoch }), onError: () => {} })
      t.teardown(subscribed)
      const before = await b.read('wf', { afterSeq: 0, limit: 10 })
      t.same({ ...before, epoch: '' }, { events: [], lastSeq: 0, epoch: '', truncated: false }, 'an unknown workflow reads as empty')
      t.type(before.epoch, 'string')
      // Until b's subscription is up, a's events could pass it by: wait for one to come through.
      for (;;) {
        await a.append(thought('probe', 'p'))
        await new Promise((resolve) => setTimeout(resolve, 20))
        if (heard.length > 0) break
      }
      heard.length = 0

      const appends: Promise<RecordedAgentEvent>[] = []
      for (let i = 0; i < 60; i++) appends.push((i % 2 === 0 ? a : b).append(thought('wf', `n${i}`)))
      const recorded = await Promise.all(appends)
      t.same(recorded.map((event) => event.seq).sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i + 1))
      t.ok(recorded.every((event) => typeof event.seq === 'number'), 'seq is a number')
      const all = await a.read('wf', { afterSeq: 0, limit: 100 })
      t.equal(all.lastSeq, 60)
      t.equal(all.epoch, before.epoch, 'the epoch fixed by the first read is kept')
      t.equal(all.truncated, true, 'maxEvents 50: 1..10 left the buffer')
      t.same(all.events.map((event) => event.seq), Array.from({ length: 50 }, (_, i) => i + 11))
      const bySeq = new Map(recorded.map((event) => [event.seq, event]))
      t.same(all.events, all.events.map((event) => bySeq.get(event.seq)), 'stored events equal the events append resolved with')
      const page = await b.read('wf', { afterSeq: 55, limit: 3 })
      t.same(page.events.map((event) => event.seq), [56, 57, 58])
      t.equal(page.truncated, false)
      await new Promise<void>((resolve) => {
        const check = (): void => void (heard.filter((entry) => entry.seq > 0).length >= 60 ? resolve() : setTimeout(check, 10))
        check()
      })
      t.same(heard.map((entry) => entry.seq).sort((x, y) => x - y), Array.from({ length: 60 }, (_, i) => i + 1), 'b heard its own and a\'s events once each')
      const seqsOfA = new Set(recorded.filter((_, i) => i % 2 === 0).map((event) => event.seq))
      const fromA = heard.map((entry) => entry.seq).filter((seq) => seqsOfA.has(seq))
      t.same(fromA, [...fromA].sort((x, y) => x - y), 'a\'s events, through Redis, in seq order')
      t.ok(heard.every((entry) => entry.epoch === before.epoch), 'with their epoch')
    })

    t.test(`${flavour.name}: Redis restarted empty: calls fail fast while it is away, then a new epoch, the script cache refilled, and the subscription back`, async (t) => {
      const redis = await startRedis(t)
      const store = redisReplayStore({ client: await flavour.client(t, redis), timeout: 500 })
      t.teardown(() => store.close())
      let reconnects = 0
      const heard: number[] = []
      t.teardown(store.watch({ onEvent: (event) => heard.push(event.seq), onError: () => {}, onReconnect: () => reconnects++ }))
      const first = await store.append(thought('wf', 'one'))
      t.equal(first.seq, 1)
      const { epoch } = await store.read('wf', { afterSeq: 0, limit: 0 })
      await redis.stop()
      const started = Date.now()
      await t.rejects(store.append(thought('wf', 'lost')))
      t.ok(Date.now() - started < 2000, 'the append failed within the timeout')
      await redis.start()
      // Until the client is back, appends may still fail: try again, as emitters would.
      let again: RecordedAgentEvent | undefined
      for (let i = 0; i < 200 && again === undefined; i++) {
        again = await store.append(thought('wf', 'two')).catch(() => undefined)
        if (again === undefined) await new Promise((resolve) => setTimeout(resolve, 25))
      }
      t.match(again, { seq: 1 }, 'an empty Redis starts the workflow again at seq 1')
      const after = await store.read('wf', { afterSeq: 0, limit: 10 })
      t.not(after.epoch, epoch, 'in a new epoch')
      await new Promise<void>((resolve) => {
        const check = (): void => void (reconnects > 0 ? resolve() : setTimeout(check, 10))
        check()
      })
      t.ok(reconnects > 0, 'the watcher was told that the subscription came back')
    })
  }
}

if (redisAvailable(t)) {
  t.test('node-redis 6: its default 5 s command timeout cuts nothing: an idle subscription still hears events after 6 s', async (t) => {
    const redis = await startRedis(t)
    const flavour = nodeRedis(6, 3)
    const a = redisReplayStore({ client: await flavour.client(t, redis), keyPrefix: 'idle:' })
    const b = redisReplayStore({ client: await flavour.client(t, redis), keyPrefix: 'idle:' })
    t.teardown(() => Promise.all([a.close(), b.close()]))
    const heard: number[] = []
    const errors: Error[] = []
    t.teardown(b.watch({ onEvent: (event) => heard.push(event.seq), onError: (error) => errors.push(error) }))
    for (;;) {
      await a.append(thought('probe', 'p'))
      await new Promise((resolve) => setTimeout(resolve, 20))
      if (heard.length > 0) break
    }
    await new Promise((resolve) => setTimeout(resolve, 6000))
    const recorded = await a.append(thought('wf', 'after a long silence'))
    await new Promise<void>((resolve) => {
      const check = (): void => void (heard.includes(recorded.seq) && heard.length > 1 ? resolve() : setTimeout(check, 10))
      check()
    })
    t.equal(heard.at(-1), 1, 'the event recorded after the silence came through the subscription')
    t.same(errors, [], 'no error on the subscription')
  })
}
