// One event path for every store: emit → validate → append → the store's watch → the workflow's
// ordered stream → room. The same ordering scenarios run on the in-memory store and on Redis.
import t, { type Test } from 'tap'
import {
  memoryReplayStore,
  redisReplayStore,
  type RecordedEventWatcher,
  type ReplayStore,
} from '../src/index.ts'
import { AGENT_EVENTS, collect, connectAs, range, request, seqs, startServer, until, waitFor, type SubscribeOk, type TestServer } from './helpers.ts'
import { seededRandom } from './random.ts'
import { redisAvailable, startRedis } from './redis-server.ts'

/**
 * A real store whose watchers hear each event `delayMs` late (in order), while its reads are
 * current: what a node sees when the store's pub/sub lags its replies (as over a Redis Cluster bus).
 */
function lateWatch(store: ReplayStore, delayMs: number): ReplayStore {
  return {
    append: (event) => store.append(event),
    read: (workflowId, options) => store.read(workflowId, options),
    close: () => store.close(),
    watch(watcher: RecordedEventWatcher) {
      return store.watch({
        onEvent: (event, epoch) => void setTimeout(() => watcher.onEvent(event, epoch), delayMs),
        onError: (error) => watcher.onError(error),
      })
    },
  }
}

interface StoreKind {
  name: string
  /** A fresh store; `flush` empties it as a restart would. */
  create(t: Test, options?: { maxWorkflows?: number }): Promise<{ store: ReplayStore; flush(): Promise<void> }>
}

const memory: StoreKind = {
  name: 'memory',
  async create(_t, options = {}) {
    const store = memoryReplayStore(options)
    return {
      store,
      // The memory store forgets a workflow pushed out by newer ones (maxWorkflows: 1 below).
      flush: async () => void (await store.append({ type: 'thought', workflowId: 'other', data: { content: 'x' }, timestamp: new Date().toISOString() })),
    }
  },
}

const redisStore: StoreKind = {
    name: 'redis',
    async create(t) {
      const server = await startRedis(t)
      const client = server.client(t, { maxRetriesPerRequest: 1, commandTimeout: 1000 })
      const store = redisReplayStore({ client, keyPrefix: `path:${server.port}:`, timeout: 1000 })
      return { store, flush: async () => void (await client.flushall()) }
    },
}

async function serve(t: Test, store: ReplayStore): Promise<TestServer> {
  t.teardown(() => store.close())
  return startServer(t, { replay: { store }, rateLimit: false })
}

function scenarios(kind: StoreKind): void {
  t.test(`${kind.name}: subscribers joining during a burst each get 1..N exactly once, in order`, async (t) => {
    const { store } = await kind.create(t)
    const server = await serve(t, store)
    const total = 300
    const sockets = await Promise.all(range(1, 6).map((i) => connectAs(t, server, `u${i}`)))
    const received = sockets.map((socket) => collect(socket, AGENT_EVENTS))
    const random = seededRandom(11)
    const emitting = (async () => {
      for (let i = 0; i < total; i++) {
        // Some emits overlap, as an agent's parallel tool calls do.
        if (i % 3 === 0) void server.app.agentEvents.emitThought('wf', `t${i}`)
        else await server.app.agentEvents.emitThought('wf', `t${i}`)
      }
    })()
    await Promise.all(sockets.map(async (socket, i) => {
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 40) + i * 5))
      t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 }), { ok: true })
    }))
    await emitting
    await until(() => received.every((events) => events.length >= total))
    for (const events of received) t.same(seqs(events), range(1, total))
  })

  t.test(`${kind.name}: a reconnect with afterSeq gets exactly what it missed, then live events`, async (t) => {
    const { store } = await kind.create(t)
    const server = await serve(t, store)
    const first = await connectAs(t, server, 'u1')
    const seen = collect(first, AGENT_EVENTS)
    const ack = await request<SubscribeOk>(first, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    for (let i = 0; i < 20; i++) await server.app.agentEvents.emitThought('wf', `a${i}`)
    await until(() => seen.length === 20)
    first.disconnect()
    for (let i = 0; i < 15; i++) await server.app.agentEvents.emitThought('wf', `b${i}`)
    const second = await connectAs(t, server, 'u1')
    const rest = collect(second, AGENT_EVENTS)
    const again = await request<SubscribeOk>(second, 'agent:subscribe', { workflowId: 'wf', afterSeq: 20, epoch: ack.epoch })
    t.match(again, { ok: true, lastSeq: 35, replayed: 15, truncated: false, epoch: ack.epoch })
    for (let i = 0; i < 5; i++) await server.app.agentEvents.emitThought('wf', `c${i}`)
    await until(() => rest.length === 20)
    t.same([...seqs(seen), ...seqs(rest)], range(1, 40))
  })

  t.test(`${kind.name}: a new epoch under a live subscriber closes its transport; resubscribing with the old epoch is truncated`, async (t) => {
    const { store, flush } = await kind.create(t, { maxWorkflows: 1 })
    const server = await serve(t, store)
    const socket = await connectAs(t, server, 'u1')
    const seen = collect(socket, AGENT_EVENTS)
    const ack = await request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    for (let i = 0; i < 5; i++) await server.app.agentEvents.emitThought('wf', `old ${i}`)
    await until(() => seen.length === 5)
    await flush()
    const closed = waitFor<string>(socket, 'disconnect')
    const restarted = await server.app.agentEvents.emitThought('wf', 'first of the new life')
    t.match(restarted, { seq: 1 }, 'numbering starts again in the new epoch')
    t.equal(await closed, 'transport close', 'the client sees its transport close and may reconnect by itself')
    t.same(seqs(seen), range(1, 5), 'no event of the new life reached it under the old numbering')
    const back = await connectAs(t, server, 'u1')
    const replayed = collect(back, AGENT_EVENTS)
    const again = await request<SubscribeOk>(back, 'agent:subscribe', { workflowId: 'wf', afterSeq: 5, epoch: ack.epoch })
    t.match(again, { ok: true, lastSeq: 1, replayed: 1, truncated: true })
    t.not(again.epoch, ack.epoch)
    t.same(seqs(replayed), [1])
  })

  t.test(`${kind.name}: when reads run ahead of the watch, a subscriber gets no duplicate and no gap`, async (t) => {
    const { store } = await kind.create(t)
    const server = await serve(t, lateWatch(store, 60))
    const watcher = await connectAs(t, server, 'early')
    const early = collect(watcher, AGENT_EVENTS)
    t.match(await request(watcher, 'agent:subscribe', { workflowId: 'wf' }), { ok: true, lastSeq: 0 })
    const total = 60
    const emitting = (async () => {
      for (let i = 0; i < total; i++) {
        await server.app.agentEvents.emitThought('wf', `t${i}`)
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
    })()
    const lateSockets = await Promise.all(range(1, 4).map((i) => connectAs(t, server, `late${i}`)))
    const late = lateSockets.map((socket) => collect(socket, AGENT_EVENTS))
    for (const socket of lateSockets) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 }), { ok: true })
    }
    await emitting
    await until(() => early.length >= total && late.every((events) => events.length >= total))
    await new Promise((resolve) => setTimeout(resolve, 150))
    t.same(seqs(early), range(1, total))
    for (const events of late) t.same(seqs(events), range(1, total), 'each late subscriber: 1..N once each')
  })
}

scenarios(memory)

if (redisAvailable(t)) scenarios(redisStore)
