import { Writable } from 'node:stream'
import { createAdapter } from '@socket.io/redis-adapter'
import type { Test } from 'tap'
import { redisReplayStore, type RedisReplayStoreOptions, type ReplayStore } from '../src/index.ts'
import { startServer, type TestServer } from './helpers.ts'
import type { RedisServer } from './redis-server.ts'

export interface RedisNode extends TestServer {
  store: ReplayStore
  /** Log lines (JSON objects) of this node at level warn and above. */
  logs: Record<string, unknown>[]
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
): Promise<RedisNode> {
  const pubClient = redis.client(t)
  const subClient = redis.client(t)
  const commands = redis.client(t)
  const replayStore = redisReplayStore({ client: commands, keyPrefix: `test:${redis.port}:`, timeout: 1000, ...store })
  t.teardown(() => replayStore.close())
  const logs: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const server = await startServer(t, {
    replay: { store: replayStore },
    socketio: { adapter: createAdapter(pubClient, subClient) },
  }, { logger: { level: 'warn', stream } })
  return { ...server, store: replayStore, logs }
}
