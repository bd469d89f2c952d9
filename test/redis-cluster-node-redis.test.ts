// The Redis Cluster suite on node-redis `createCluster` (test/redis-cluster-suite.ts): node-redis 6
// speaking RESP3 and node-redis 5 (the `redis-v5` alias, the low end of the peer range) speaking RESP2.
import t from 'tap'
import { clusterSuite } from './redis-cluster-suite.ts'
import { redisClusterAvailable } from './redis-cluster.ts'

if (redisClusterAvailable(t)) {
  clusterSuite(t, { library: 'node-redis', major: 6, resp: 3 })
  clusterSuite(t, { library: 'node-redis', major: 5, resp: 2 })
}
