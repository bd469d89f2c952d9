// Fan-out throughput: one node with the in-memory store against two nodes on Redis (the Socket.IO
// Redis adapter and redisReplayStore), same run, same load. Needs Debian's redis-server.
//
//   npx tsx bench/redis-fanout.ts                  (SUBSCRIBERS=200 EVENTS=1000 WORKFLOWS=4 by default)
//
// Each subscriber follows one workflow; the events are emitted round-robin over the workflows (from
// both nodes in the Redis case), a few in flight at once. The figure is deliveries per second: events
// received by all subscribers together, from the first emit until the last subscriber has them all.
// Both nodes and all clients share this one process, so the Redis figure shows the cost of the
// extra hop (a Lua call per event, a pub/sub message per node), not the gain of a second machine.
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import fastifyJwt from '@fastify/jwt'
import { createAdapter } from '@socket.io/redis-adapter'
import Fastify, { type FastifyInstance } from 'fastify'
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client'
import agentEvents, { type AgentEventsOptions, redisReplayStore } from '../src/index.ts'
import { startRedis } from '../test/redis-server.ts'

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 200)
const EVENTS = Number(process.env.EVENTS ?? 1000)
const WORKFLOWS = Number(process.env.WORKFLOWS ?? 4)
const IN_FLIGHT = 8
const SECRET = 'bench-secret-that-is-long-enough-for-hs256'

const cleanups: (() => unknown)[] = []
const teardown = { teardown: (fn: () => unknown) => void cleanups.push(fn) }

async function node(options: AgentEventsOptions): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify({ logger: false })
  await app.register(fastifyJwt, { secret: SECRET })
  await app.register(agentEvents, { rateLimit: false, ...options })
  await app.listen({ port: 0, host: '127.0.0.1' })
  cleanups.push(() => app.close())
  return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

async function subscribe(url: string, token: string, workflowId: string, onEvent: () => void): Promise<ClientSocket> {
  const socket = ioClient(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token } })
  cleanups.push(() => socket.disconnect())
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('connect_error', reject)
  })
  socket.on('agent:thought', onEvent)
  const ack = (await socket.timeout(10_000).emitWithAck('agent:subscribe', { workflowId })) as { ok: boolean }
  if (!ack.ok) throw new Error(`subscribe failed: ${JSON.stringify(ack)}`)
  return socket
}

/** Deliveries per second for one layout of nodes. */
async function run(name: string, nodes: { app: FastifyInstance; url: string }[]): Promise<number> {
  const workflows = Array.from({ length: WORKFLOWS }, (_, i) => `${name.replace(/[^A-Za-z0-9]+/g, '-')}-wf-${i}`)
  const expected = SUBSCRIBERS * (EVENTS / WORKFLOWS)
  let received = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  const onEvent = (): void => {
    if (++received === expected) done()
  }
  const token = nodes[0]!.app.jwt.sign({ sub: 'bench' }, { expiresIn: '1h' })
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const target = nodes[i % nodes.length]!
    await subscribe(target.url, token, workflows[i % WORKFLOWS]!, onEvent)
  }
  const started = performance.now()
  const pending = new Set<Promise<unknown>>()
  for (let i = 0; i < EVENTS; i++) {
    const emitter = nodes[i % nodes.length]!
    const emitted = emitter.app.agentEvents.emitThought(workflows[i % WORKFLOWS]!, `step ${i}`)
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
  const rate = expected / seconds
  console.log(`${name.padEnd(22)} ${expected} deliveries in ${seconds.toFixed(2)} s = ${Math.round(rate)} deliveries/s`)
  return rate
}

try {
  console.log(`subscribers ${SUBSCRIBERS}, events ${EVENTS}, workflows ${WORKFLOWS}, ${IN_FLIGHT} emits in flight`)
  const memory = await run('1 node, memory', [await node({})])

  const redis = await startRedis(teardown)
  const redisNode = async (): Promise<{ app: FastifyInstance; url: string }> => {
    const commands = redis.client(teardown, { maxRetriesPerRequest: 1, commandTimeout: 2000 })
    const store = redisReplayStore({ client: commands, keyPrefix: 'bench:' })
    cleanups.push(() => store.close())
    return node({
      replay: { store },
      socketio: {
        adapter: createAdapter(
          redis.client(teardown, { maxRetriesPerRequest: null }),
          redis.client(teardown, { maxRetriesPerRequest: null }),
        ),
      },
    })
  }
  const twoNodes = [await redisNode(), await redisNode()]
  // Let both nodes finish subscribing to Redis before the load starts.
  const probe = redis.client(teardown)
  while (Number(((await probe.pubsub('NUMSUB', 'bench:recorded')) as [string, number])[1]) < 2) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const clustered = await run('2 nodes, Redis', twoNodes)
  console.log(`ratio (2 nodes on Redis / 1 node in memory): ${(clustered / memory).toFixed(2)}`)
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
