import rateLimit from '@fastify/rate-limit'
import t from 'tap'
import { client, connectAs, refusal, request } from './helpers.ts'
import { startRedisNode } from './redis-nodes.ts'
import { redisAvailable, startRedis, type RedisServer } from './redis-server.ts'

if (redisAvailable(t)) {
  t.test('handshake and message limits count across nodes through @fastify/rate-limit\'s Redis store', async (t) => {
    const redis = await startRedis(t)
    // As the README's recipe: each node registers @fastify/rate-limit on the shared Redis.
    const limitedNode = (server: RedisServer) =>
      startRedisNode(t, server, {}, {
        before: async (app) => {
          await app.register(rateLimit, { global: false, redis: server.client(t), nameSpace: 'test-limits:' })
        },
        plugin: {
          rateLimit: {
            connection: { max: 3, timeWindow: '1 minute' },
            message: { max: 4, timeWindow: '1 minute' },
          },
        },
      })
    const a = await limitedNode(redis)
    const b = await limitedNode(redis)

    // Three handshakes from 127.0.0.1, spread over both nodes, use up the shared allowance.
    const first = await connectAs(t, a, 'alice')
    const second = await connectAs(t, b, 'alice')
    const third = await connectAs(t, a, 'alice')
    const refused = await refusal(client(t, b, { auth: { token: b.token('alice') } }))
    t.equal(refused.message, 'Too many connection attempts')
    t.equal(refused.data?.code, 'RATE_LIMITED', 'the fourth handshake is refused on the other node')
    t.ok(typeof refused.data?.retryAfterMs === 'number' && refused.data.retryAfterMs > 0)

    // Four messages of one user, on sockets of both nodes, use up the message allowance.
    t.match(await request(first, 'agent:subscribe', { workflowId: 'wf-1' }), { ok: true })
    t.match(await request(second, 'agent:subscribe', { workflowId: 'wf-2' }), { ok: true })
    t.match(await request(first, 'agent:subscribe', { workflowId: 'wf-3' }), { ok: true })
    t.match(await request(second, 'agent:subscribe', { workflowId: 'wf-4' }), { ok: true })
    t.match(await request(third, 'agent:subscribe', { workflowId: 'wf-5' }), { ok: false, error: { code: 'RATE_LIMITED' } })
    t.ok(third.connected, 'a refused message leaves the socket connected')
  })
}
