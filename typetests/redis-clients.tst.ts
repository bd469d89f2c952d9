import { Cluster, Redis } from 'ioredis'
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis-v5'
import { createClient, createCluster } from 'redis'
import { createClient as createClient5, createCluster as createCluster5 } from 'redis-v5'
import { describe, expect, test } from 'tstyche'
import { redisReplayStore } from 'fastify-agent-events'

describe('redisReplayStore({ client })', () => {
  test('takes ioredis 5 and 6, Redis and Cluster, as they are', () => {
    expect(redisReplayStore).type.toBeCallableWith({ client: new Redis() })
    expect(redisReplayStore).type.toBeCallableWith({ client: new Cluster([]) })
    expect(redisReplayStore).type.toBeCallableWith({ client: new Redis5() })
    expect(redisReplayStore).type.toBeCallableWith({ client: new Cluster5([]) })
  })

  test('takes node-redis 5 and 6 clients and clusters, RESP2 or RESP3, as they are', () => {
    expect(redisReplayStore).type.toBeCallableWith({ client: createClient() })
    expect(redisReplayStore).type.toBeCallableWith({ client: createClient({ RESP: 3 }) })
    expect(redisReplayStore).type.toBeCallableWith({ client: createCluster({ rootNodes: [] }) })
    expect(redisReplayStore).type.toBeCallableWith({ client: createCluster({ rootNodes: [], RESP: 3 }) })
    expect(redisReplayStore).type.toBeCallableWith({ client: createClient5() })
    expect(redisReplayStore).type.toBeCallableWith({ client: createCluster5({ rootNodes: [], RESP: 3 }) })
  })

  test('refuses anything else', () => {
    expect(redisReplayStore).type.not.toBeCallableWith({ client: {} })
    expect(redisReplayStore).type.not.toBeCallableWith({ client: { eval: async () => 1 } })
  })
})
