// The Redis Cluster suite on ioredis 6 `Cluster` (test/redis-cluster-suite.ts).
import t from 'tap'
import { clusterSuite } from './redis-cluster-suite.ts'
import { redisClusterAvailable } from './redis-cluster.ts'

if (redisClusterAvailable(t)) clusterSuite(t, { library: 'ioredis', major: 6 })
