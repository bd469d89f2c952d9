// The Redis Cluster suite (test/redis-cluster-suite.ts) on ioredis `Cluster`, 6 and 5 (the
// `ioredis-v5` alias): both ends of the peer range.
import t from 'tap'
import { clusterSuite } from './redis-cluster-suite.ts'
import { redisClusterAvailable } from './redis-cluster.ts'

if (redisClusterAvailable(t)) {
  clusterSuite(t, { library: 'ioredis', major: 6 })
  clusterSuite(t, { library: 'ioredis', major: 5 })
}
