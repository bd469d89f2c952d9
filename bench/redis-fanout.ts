// Fan-out throughput and Redis cost: one node with the in-memory store, then 1, 2 and 3 nodes on
// one Redis and on a 3-master Redis Cluster (redisReplayStore on ioredis, the Socket.IO Redis
// streams adapter), same load. Needs Debian's redis-server and redis-tools.
//
//   npx tsx bench/redis-fanout.ts                  (SUBSCRIBERS=200 EVENTS=1000 WORKFLOWS=4 by default)
//
// Each subscriber follows one workflow, the subscribers split evenly over the nodes; the events are
// emitted round-robin over the workflows and over the nodes, a few in flight at once. The figure is
// deliveries per second: events received by all subscribers together, from the first emit until
// the last subscriber has them all. Every node, client and Redis shares this machine, so more nodes
// cannot be faster here; what decides scaling on separate machines is printed beside it: Redis
// commands per event (INFO commandstats, summed over the masters), bytes in and out of Redis per
// event (INFO stats), and, on the cluster, pub/sub messages per event on the cluster bus.
import { execFile } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import fastifyJwt from '@fastify/jwt'
import { createAdapter } from '@socket.io/redis-streams-adapter'
import Fastify, { type FastifyInstance } from 'fastify'
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client'
import agentEvents, { type AgentEventsOptions, redisReplayStore, type RedisReplayStoreOptions } from '../src/index.ts'
import { startRedis } from '../test/redis-server.ts'
import { startRedisCluster } from '../test/redis-cluster.ts'

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 200)
const EVENTS = Number(process.env.EVENTS ?? 1000)
const WORKFLOWS = Number(process.env.WORKFLOWS ?? 4)
const IN_FLIGHT = 8
const SECRET = 'bench-secret-that-is-long-enough-for-hs256'
const KEY_PREFIX = 'bench:'

const cleanups: (() => unknown)[] = []
const teardown = { teardown: (fn: () => unknown) => void cleanups.push(fn) }
const cli = promisify(execFile)

interface BenchNode {
  app: FastifyInstance
  url: string
  close(): Promise<void>
}

async function node(options: AgentEventsOptions, closeAlso: () => Promise<unknown> = async () => {}): Promise<BenchNode> {
  const app = Fastify({ logger: false })
  await app.register(fastifyJwt, { secret: SECRET })
  await app.register(agentEvents, { rateLimit: false, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  let closed = false
  const close = async (): Promise<void> => {
    if (closed) return
    closed = true
    await app.close()
    await closeAlso()
  }
  cleanups.push(close)
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close }
}

async function subscribe(url: string, token: string, workflowId: string, onEvent: () => void): Promise<ClientSocket> {
  const socket = ioClient(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('connect_error', reject)
  })
  socket.on('agent:thought', onEvent)
  const ack = (await socket.timeout(10_000).emitWithAck('agent:subscribe', { workflowId })) as { ok: boolean }
  if (!ack.ok) throw new Error(`subscribe failed: ${JSON.stringify(ack)}`)
  return socket
}

/** Redis's own counters, summed over the given servers (the masters of a cluster). */
interface RedisCounters {
  commands: Map<string, number>
  /** Microseconds Redis spent in commands (a script's inner calls are inside its EVALSHA's time). */
  usec: number
  bytes: number
  busPublish: number
}

async function counters(ports: number[], cluster: boolean): Promise<RedisCounters> {
  const commands = new Map<string, number>()
  let bytes = 0
  let busPublish = 0
  let usec = 0
  for (const port of ports) {
    const args = ['-h', '127.0.0.1', '-p', String(port)]
    const { stdout: stats } = await cli('redis-cli', [...args, 'INFO', 'all'])
    for (const match of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      const name = match[1] as string
      // The bench's own probes (INFO, CONFIG, CLUSTER, PUBSUB) are not the load.
      if (['info', 'config|resetstat', 'cluster|info', 'pubsub|numsub', 'config', 'cluster', 'pubsub'].includes(name)) continue
      commands.set(name, (commands.get(name) ?? 0) + Number(match[2]))
      // Inner calls of a script are counted in its own time too: count the outer commands only.
      if (['evalsha', 'eval', 'xread', 'xadd', 'xrange'].includes(name)) usec += Number(match[3])
    }
    bytes += Number(/^total_net_input_bytes:(\d+)/m.exec(stats)?.[1] ?? 0) + Number(/^total_net_output_bytes:(\d+)/m.exec(stats)?.[1] ?? 0)
    if (cluster) {
      const { stdout: info } = await cli('redis-cli', [...args, 'CLUSTER', 'INFO'])
      busPublish += Number(/^cluster_stats_messages_publish_sent:(\d+)/m.exec(info)?.[1] ?? 0)
    }
  }
  return { commands, bytes, busPublish, usec }
}

function difference(after: RedisCounters, before: RedisCounters): RedisCounters {
  const commands = new Map<string, number>()
  for (const [name, calls] of after.commands) {
    const delta = calls - (before.commands.get(name) ?? 0)
    if (delta > 0) commands.set(name, delta)
  }
  return { commands, bytes: after.bytes - before.bytes, busPublish: after.busPublish - before.busPublish, usec: after.usec - before.usec }
}

interface Result {
  name: string
  rate: number
  redis?: RedisCounters
}

/** Deliveries per second for one layout of nodes, and what Redis did meanwhile. */
async function run(name: string, nodes: BenchNode[], redis?: { ports: number[]; cluster: boolean }): Promise<Result> {
  const workflows = Array.from({ length: WORKFLOWS }, (_, i) => `${name.replace(/[^A-Za-z0-9]+/g, '-')}-wf-${i}`)
  const expected = SUBSCRIBERS * (EVENTS / WORKFLOWS)
  let received = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  const onEvent = (): void => {
    if (++received === expected) done()
  }
  const token = nodes[0]!.app.jwt.sign({ sub: 'bench' }, { expiresIn: '1h' })
  const sockets: ClientSocket[] = []
  for (let i = 0; i < SUBSCRIBERS; i++) {
    sockets.push(await subscribe(nodes[i % nodes.length]!.url, token, workflows[i % WORKFLOWS]!, onEvent))
  }
  const before = redis === undefined ? undefined : await counters(redis.ports, redis.cluster)
  const started = performance.now()
  const pending = new Set<Promise<unknown>>()
  for (let i = 0; i < EVENTS; i++) {
    const emitted = nodes[i % nodes.length]!.app.agentEvents.emitThought(workflows[i % WORKFLOWS]!, `step ${i}`)
    pending.add(emitted)
    void emitted.finally(() => pending.delete(emitted))
    if (pending.size >= IN_FLIGHT) await Promise.race(pending)
  }
  await Promise.all(pending)
  const timeout = setTimeout(() => {
    console.error(`${name}: only ${received} of ${expected} deliveries after 60 s`)
    process.exit(1)
  }, 60_000)
  await finished
  clearTimeout(timeout)
  const seconds = (performance.now() - started) / 1000
  const after = redis === undefined ? undefined : await counters(redis.ports, redis.cluster)
  for (const socket of sockets) socket.disconnect()
  const rate = expected / seconds
  let line = `${name.padEnd(24)} ${expected} deliveries in ${seconds.toFixed(2)} s = ${String(Math.round(rate)).padStart(6)} deliveries/s`
  const used = before === undefined || after === undefined ? undefined : difference(after, before)
  if (used !== undefined) {
    const calls = [...used.commands.values()].reduce((sum, count) => sum + count, 0)
    // Redis counts a script's own calls too: EVALSHA is the one round trip of the store per event.
    const all = [...used.commands].sort((a, b) => b[1] - a[1]).map(([command, count]) => `${command} ${(count / EVENTS).toFixed(2)}`)
    line += `\n${''.padEnd(26)}${(calls / EVENTS).toFixed(2)} Redis commands/event (${all.join(', ')}), ${Math.round(used.bytes / EVENTS)} B/event in+out, ${(used.usec / EVENTS).toFixed(1)} µs of Redis/event`
    if (redis?.cluster) line += `, ${(used.busPublish / EVENTS).toFixed(2)} bus publishes/event`
  }
  console.log(line)
  return { name, rate, ...(used === undefined ? {} : { redis: used }) }
}

/** Wait until `nodes` stores listen on the store's channel (summed over the given servers). */
async function linked(ports: number[], nodes: number): Promise<void> {
  for (;;) {
    let count = 0
    for (const port of ports) {
      const { stdout } = await cli('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PUBSUB', 'NUMSUB', `${KEY_PREFIX}recorded`])
      count += Number(stdout.trim().split('\n')[1] ?? 0)
    }
    if (count >= nodes) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** 1, 2 and 3 nodes, each layout on fresh nodes, closed after it. */
async function layouts(
  where: string,
  ports: number[],
  cluster: boolean,
  clients: () => Promise<{ store: unknown; adapter: unknown }>,
): Promise<Result[]> {
  const results: Result[] = []
  for (const count of [1, 2, 3]) {
    const nodes: BenchNode[] = []
    for (let i = 0; i < count; i++) {
      const { store: storeClient, adapter } = await clients()
      const store = redisReplayStore({ client: storeClient as RedisReplayStoreOptions['client'], keyPrefix: KEY_PREFIX })
      nodes.push(await node({
        replay: { store },
        socketio: { adapter: createAdapter(adapter as Parameters<typeof createAdapter>[0], { blockTimeInMs: 1000 }) },
      }, () => store.close()))
    }
    await linked(ports, count)
    results.push(await run(`${count} node${count === 1 ? '' : 's'}, ${where}`, nodes, { ports, cluster }))
    for (const benchNode of nodes) await benchNode.close()
  }
  return results
}

try {
  console.log(`subscribers ${SUBSCRIBERS}, events ${EVENTS}, workflows ${WORKFLOWS}, ${IN_FLIGHT} emits in flight`)
  const memoryNode = await node({})
  const memory = await run('1 node, memory', [memoryNode])
  await memoryNode.close()

  const redis = await startRedis(teardown)
  const single = await layouts('one Redis', [redis.port], false, async () => ({
    store: redis.client(teardown, { maxRetriesPerRequest: 1, commandTimeout: 2000 }),
    adapter: redis.client(teardown, { maxRetriesPerRequest: null }),
  }))
  await redis.stop()

  const cluster = await startRedisCluster(teardown)
  const clustered = await layouts('Redis Cluster', cluster.ports, true, async () => ({
    store: await cluster.client(teardown, { library: 'ioredis', major: 6 }, 'store'),
    adapter: await cluster.client(teardown, { library: 'ioredis', major: 6 }, 'adapter'),
  }))
  for (const result of [...single, ...clustered]) {
    console.log(`ratio (${result.name} / 1 node in memory): ${(result.rate / memory.rate).toFixed(2)}`)
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
  // The streams adapter's reading connections end once their last XREAD returns.
  setTimeout(() => process.exit(0), 1500).unref()
}
