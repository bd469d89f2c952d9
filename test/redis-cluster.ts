import { type ChildProcess, execFile, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter'
import { Cluster } from 'ioredis'
import { Cluster as Cluster5 } from 'ioredis-v5'
import { createCluster } from 'redis'
import { createCluster as createCluster5 } from 'redis-v5'
import type { Test } from 'tap'
import { redisReplayStore, type RedisReplayStoreOptions, type ReplayStore } from '../src/index.ts'
import { LogCapture, startServer, type LogLine, type TestServer } from './helpers.ts'
import { freePort, spawnRedisServer, type Teardown } from './redis-server.ts'

const run = promisify(execFile)

/** Which client library (and major, and protocol for node-redis) the cluster tests drive. */
export type RedisFlavour =
  | { library: 'ioredis'; major: 5 | 6 }
  | { library: 'node-redis'; major: 5 | 6; resp: 2 | 3 }

export const flavourName = (flavour: RedisFlavour): string =>
  flavour.library === 'ioredis' ? `ioredis ${flavour.major}` : `node-redis ${flavour.major} RESP${flavour.resp}`

const INSTALL_HINT = 'redis-server or redis-cli not found: install them with `apt-get install redis-server redis-tools` (Debian/Ubuntu) to run the Redis Cluster tests'

/** As `redisAvailable`, for the cluster tests, which also need `redis-cli --cluster create`. */
export function redisClusterAvailable(t: Test): boolean {
  const found = ['redis-server', 'redis-cli'].every((command) => spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0)
  if (found) return true
  if (process.env.CI) {
    t.fail(`${INSTALL_HINT} (CI is set, so the Redis Cluster tests must run)`)
  } else {
    t.comment(INSTALL_HINT)
    t.pass('Redis Cluster tests', { skip: INSTALL_HINT })
  }
  return false
}

/**
 * A real Redis Cluster of `masters` masters and no replicas on free local ports, persistence off
 * (a restarted master comes back empty, as after a crash without AOF), stopped when the test ends.
 */
export interface RedisClusterServer {
  ports: number[]
  /** Kill a master (SIGKILL, as a crash). */
  kill(index: number): Promise<void>
  /** Start a killed master again from its cluster config, and wait until the cluster is ok. */
  restart(index: number): Promise<void>
  /** `redis-cli` against one master. */
  cli(index: number, ...args: string[]): Promise<string>
  /** A cluster client of the given flavour, ready, closed when the test ends. */
  client(t: Teardown, flavour: RedisFlavour, purpose: 'store' | 'adapter'): Promise<unknown>
}

function redisServerMajor(): number {
  const version = /v=(\d+)\./.exec(spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout)
  return Number(version?.[1] ?? 0)
}

async function portIsFree(port: number): Promise<boolean> {
  const probe = createServer()
  try {
    probe.listen(port, '127.0.0.1')
    await once(probe, 'listening')
    probe.close()
    await once(probe, 'close')
    return true
  } catch {
    return false
  }
}

/** Cluster bus timeout: a killed master is marked failed after about this long. */
const NODE_TIMEOUT_MS = 1000

export async function startRedisCluster(t: Teardown, masters = 3): Promise<RedisClusterServer> {
  const dir = await mkdtemp(join(tmpdir(), 'agent-events-cluster-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ports: number[] = []
  const busPorts: (number | undefined)[] = []
  // Redis 7 takes the cluster bus port as an option; before, it is always the port + 10000.
  const ownBusPort = redisServerMajor() >= 7
  while (ports.length < masters) {
    const port = await freePort()
    if (ownBusPort) {
      ports.push(port)
      busPorts.push(await freePort())
    } else if (port + 10_000 <= 65_535 && await portIsFree(port + 10_000)) {
      ports.push(port)
      busPorts.push(undefined)
    }
  }
  const children: (ChildProcess | undefined)[] = []

  async function start(index: number): Promise<void> {
    const port = ports[index] as number
    children[index] = await spawnRedisServer([
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice',
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
      ...(busPorts[index] === undefined ? [] : ['--cluster-port', String(busPorts[index])]),
      '--cluster-node-timeout', String(NODE_TIMEOUT_MS), '--dir', dir,
    ], dir)
  }

  async function stop(index: number, signal: NodeJS.Signals): Promise<void> {
    const child = children[index]
    children[index] = undefined
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill(signal)
    await exited
  }

  const cli = async (index: number, ...args: string[]): Promise<string> =>
    (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(ports[index]), ...args])).stdout

  /** Until every running master says `cluster_state:ok` and knows all 16384 slots. */
  async function clusterOk(): Promise<void> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const infos = await Promise.all(ports.map((_, index) => cli(index, 'CLUSTER', 'INFO').catch(() => '')))
      if (infos.every((info) => info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384'))) return
      if (Date.now() > deadline) throw new Error(`the Redis Cluster did not become ok: ${infos.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  t.teardown(() => Promise.all(ports.map((_, index) => stop(index, 'SIGTERM'))))
  // A port found free may be taken by another socket before redis-server binds it: try new ones.
  await Promise.all(ports.map(async (_, index) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await start(index)
      } catch (error) {
        if (attempt >= 5 || !String(error).includes('Address already in use')) throw error
        ports[index] = await freePort()
        if (busPorts[index] !== undefined) busPorts[index] = await freePort()
      }
    }
  }))
  await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'])
  await clusterOk()

  return {
    ports,
    cli,
    kill: (index) => stop(index, 'SIGKILL'),
    async restart(index) {
      await start(index)
      await clusterOk()
    },
    client: (teardown, flavour, purpose) => clusterClient(teardown, ports, flavour, purpose),
  }
}

/** Reconnect quickly, so that a restarted master is found again at once. */
const retryDelay = (times: number): number => Math.min(times * 50, 500)

async function clusterClient(t: Teardown, ports: number[], flavour: RedisFlavour, purpose: 'store' | 'adapter'): Promise<unknown> {
  if (flavour.library === 'ioredis') {
    const ClusterClass = flavour.major === 5 ? (Cluster5 as unknown as typeof Cluster) : Cluster
    // As the README's recipe says: the adapter's clients wait for Redis; the store's gives up quickly.
    const client = new ClusterClass(ports.map((port) => ({ host: '127.0.0.1', port })), {
      clusterRetryStrategy: retryDelay,
      redisOptions: purpose === 'store'
        ? { maxRetriesPerRequest: 1, commandTimeout: 1000 }
        : { maxRetriesPerRequest: null },
    })
    client.on('error', () => {})
    t.teardown(async () => {
      if (client.status === 'end') return
      await client.quit().catch(() => {})
      client.disconnect()
    })
    if (client.status !== 'ready') await once(client, 'ready')
    return client
  }
  const create = flavour.major === 5 ? (createCluster5 as unknown as typeof createCluster) : createCluster
  const client = create({
    rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
    // As the README's recipe: the store's client keeps no offline queue, so that a command sent
    // while a master is away fails now instead of being sent when it is back.
    defaults: { socket: { reconnectStrategy: retryDelay, connectTimeout: 1000 }, ...(purpose === 'store' ? { disableOfflineQueue: true } : {}) },
    RESP: flavour.resp,
  })
  client.on('error', () => {})
  await client.connect()
  t.teardown(async () => {
    if (!client.isOpen) return
    await client.close().catch(() => {})
  })
  return client
}

/** How long the streams adapter's XREAD blocks (under node-redis 6's 5 s command timeout). */
const STREAM_BLOCK_MS = 1000

export interface ClusterNode extends TestServer {
  store: ReplayStore
  logs: LogLine[]
}

/**
 * One Fastify node on the cluster as the README recipe sets it up: a `redisReplayStore` on a
 * cluster client of `flavour`, and the Socket.IO Redis streams adapter on another.
 */
export async function startClusterNode(
  t: Test,
  cluster: RedisClusterServer,
  flavour: RedisFlavour,
  store: Partial<Omit<RedisReplayStoreOptions, 'client'>> = {},
): Promise<ClusterNode> {
  const adapterClient = await cluster.client(t, flavour, 'adapter')
  const storeClient = await cluster.client(t, flavour, 'store')
  const replayStore = redisReplayStore({
    client: storeClient as RedisReplayStoreOptions['client'],
    keyPrefix: `test:${cluster.ports[0]}:`,
    timeout: 1000,
    ...store,
  })
  t.teardown(() => replayStore.close())
  const logs = new LogCapture()
  // The streams adapter disconnects its reading client once its blocking XREAD returns, after the
  // app closed: wait for that (teardowns run last added first) before the clients and Redis go.
  t.teardown(() => new Promise((resolve) => setTimeout(resolve, STREAM_BLOCK_MS + 200)))
  const server = await startServer(t, {
    replay: { store: replayStore },
    // Under node-redis 6's 5 s default command timeout, XREAD must block for less.
    socketio: { adapter: createStreamsAdapter(adapterClient as Parameters<typeof createStreamsAdapter>[0], { blockTimeInMs: STREAM_BLOCK_MS }) },
  }, { logger: { level: 'warn', stream: logs.stream } })
  return { ...server, store: replayStore, logs: logs.lines }
}

/**
 * Resolve once `nodes` stores listen on the store's channel: on a cluster each subscriber is on
 * one master, and PUBSUB NUMSUB counts that master's own, so the counts are summed.
 */
export async function clusterLinked(cluster: RedisClusterServer, nodes: number): Promise<void> {
  const channel = `test:${cluster.ports[0]}:recorded`
  for (;;) {
    const counts = await Promise.all(cluster.ports.map(async (_, index) => {
      const reply = await cluster.cli(index, 'PUBSUB', 'NUMSUB', channel).catch(() => '')
      return Number(reply.trim().split('\n')[1] ?? 0)
    }))
    if (counts.reduce((sum, count) => sum + count, 0) >= nodes) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
