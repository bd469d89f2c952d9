import { createAdapter } from '@socket.io/redis-adapter'
import type { Test } from 'tap'
import { redisReplayStore, type AgentEventsOptions, type RedisReplayStoreOptions, type ReplayStore } from '../src/index.ts'
import { LogCapture, startServer, type LogLine, type StartOptions, type TestServer } from './helpers.ts'
import type { RedisServer } from './redis-server.ts'

export interface RedisNode extends TestServer {
  store: ReplayStore
  /** Log lines (JSON objects) of this node at level warn and above. */
  logs: LogLine[]
}

/**
 * One Fastify node as the README recipe sets it up: its own ioredis clients, the Socket.IO Redis
 * adapter on a pub/sub pair, and a `redisReplayStore` on a command client. Every node of a test
 * shares the Redis and the key prefix, so they form one cluster.
 */
export async function startRedisNode(
  t: Test,
  redis: RedisServer,
  store: Partial<Omit<RedisReplayStoreOptions, 'client'>> = {},
  extra: { plugin?: AgentEventsOptions; before?: StartOptions['before'] } = {},
): Promise<RedisNode> {
  // As the README's recipe says: the adapter's clients wait for Redis (the adapter leaves their
  // promises unhandled, so they must not reject); the store's client gives up quickly.
  const pubClient = redis.client(t, { maxRetriesPerRequest: null })
  const subClient = redis.client(t, { maxRetriesPerRequest: null })
  const commands = redis.client(t, { maxRetriesPerRequest: 1, commandTimeout: 1000 })
  const replayStore = redisReplayStore({ client: commands, keyPrefix: `test:${redis.port}:`, timeout: 1000, ...store })
  t.teardown(() => replayStore.close())
  const logs = new LogCapture()
  const server = await startServer(t, {
    ...extra.plugin,
    replay: { store: replayStore },
    socketio: { adapter: createAdapter(pubClient, subClient) },
  }, {
    logger: { level: 'warn', stream: logs.stream },
    before: async (app) => {
      // A closed node no longer listens on Redis: the next node's `linked` must not wait for it.
      app.addHook('onClose', async () => void nodesOf.set(redis, (nodesOf.get(redis) ?? 1) - 1))
      await extra.before?.(app)
    },
  })
  const node = { ...server, store: replayStore, logs: logs.lines }
  const nodes = (nodesOf.get(redis) ?? 0) + 1
  nodesOf.set(redis, nodes)
  await linked(t, redis, nodes)
  return node
}

const nodesOf = new WeakMap<RedisServer, number>()

/**
 * Resolve once `nodes` nodes listen on Redis: the store's channel and the adapter's request
 * channel each count that many subscribers. Until then, another node's events could pass by.
 */
export async function linked(t: Test, redis: RedisServer, nodes = nodesOf.get(redis) ?? 1): Promise<void> {
  const probe = redis.client(t)
  const channels = [`test:${redis.port}:recorded`, 'socket.io-request#/#']
  for (;;) {
    const counts = (await probe.pubsub('NUMSUB', ...channels)) as (string | number)[]
    if (channels.every((_, i) => Number(counts[i * 2 + 1]) >= nodes)) break
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  probe.disconnect()
}
