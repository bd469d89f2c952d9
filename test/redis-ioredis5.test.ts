// The peer range accepts ioredis 5 and 6. The Redis test files run on 6 (the `ioredis`
// devDependency); this file runs the store, multi-node and rate-limit ones again on 5 (the
// `ioredis-v5` alias), so that both ends of the range are proven with a real Redis.
import { createRequire } from 'node:module'
import { Redis as Redis5 } from 'ioredis-v5'
import t from 'tap'
import { redisAvailable, startRedis, useIoredis } from './redis-server.ts'

useIoredis(5)

if (redisAvailable(t)) {
  t.test('the clients of this file are ioredis 5', async (t) => {
    const { version } = createRequire(import.meta.url)('ioredis-v5/package.json') as { version: string }
    t.match(version, /^5\./)
    const redis = await startRedis(t)
    const client = redis.client(t)
    t.ok((client as unknown) instanceof Redis5)
    t.equal(await client.ping(), 'PONG')
  })
}

await import('./redis-replay-store.test.ts')
await import('./redis-nodes.test.ts')
await import('./redis-rate-limits.test.ts')
