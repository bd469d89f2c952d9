// A quick, in-process look at the per-emit cost that the plugin adds to raw Socket.IO, for work
// on the hot path (npm run bench measures the real thing across processes):
//   npx tsx bench/emit-hot-path.ts [rounds]
// Raw and plugin servers live side by side with the same subscribers (one workflow each); blocks
// of emits alternate between them and the process CPU time per emit is compared. Client work is
// in the same process and identical for both, so the difference is the plugin's own cost.
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { Server } from 'socket.io'
import { io as connectClient, type Socket } from 'socket.io-client'
import agentEvents from 'fastify-agent-events'
import { median } from './stats.ts'
import { SECRET, signToken, timedContent } from './wire.ts'

const CLIENTS = 100
const EMITS_PER_BLOCK = 4_000
const BATCH = 100
const rounds = Number(process.argv[2] ?? 31)

type Emit = (workflowId: string, content: string) => Promise<unknown> | undefined

async function rawServer(): Promise<{ app: FastifyInstance; emit: Emit }> {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: SECRET })
  const io = new Server(app.server)
  app.addHook('preClose', (done) => {
    io.local.disconnectSockets(true)
    done()
  })
  app.addHook('onClose', async () => {
    await io.close()
  })
  io.use((socket, next) => {
    socket.data.user = app.jwt.verify(String((socket.handshake.auth as { token?: unknown }).token))
    next()
  })
  io.on('connection', (socket) => {
    socket.on('agent:subscribe', ({ workflowId }: { workflowId: string }, ack: (reply: unknown) => void) => {
      void socket.join(`workflow:${workflowId}`)
      ack({ ok: true })
    })
  })
  const seqs = new Map<string, number>()
  const emit: Emit = (workflowId, content) => {
    const seq = (seqs.get(workflowId) ?? 0) + 1
    seqs.set(workflowId, seq)
    io.to(`workflow:${workflowId}`).emit('agent:thought', {
      type: 'thought', workflowId, data: { content }, timestamp: new Date().toISOString(), seq, id: randomUUID(),
    })
    return undefined
  }
  return { app, emit }
}

async function pluginServer(): Promise<{ app: FastifyInstance; emit: Emit }> {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: SECRET })
  await app.register(agentEvents, { rateLimit: false })
  return { app, emit: (workflowId, content) => app.agentEvents.emitThought(workflowId, content) }
}

async function subscribers(app: FastifyInstance, counter: { received: number }): Promise<Socket[]> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const sockets: Socket[] = []
  for (let index = 0; index < CLIENTS; index++) {
    const socket = connectClient(`http://127.0.0.1:${port}`, {
      auth: { token: signToken(`user-${index}`) }, transports: ['websocket'], forceNew: true, reconnection: false,
    })
    socket.on('agent:thought', () => void counter.received++)
    await new Promise((resolve) => socket.once('connect', () => resolve(undefined)))
    await socket.emitWithAck('agent:subscribe', { workflowId: `wf-${index}` })
    sockets.push(socket)
  }
  return sockets
}

async function block(emit: Emit, counter: { received: number }): Promise<number> {
  counter.received = 0
  const before = process.cpuUsage()
  for (let sent = 0; sent < EMITS_PER_BLOCK; ) {
    let last: Promise<unknown> | undefined
    for (let end = sent + BATCH; sent < end; sent++) last = emit(`wf-${sent % CLIENTS}`, timedContent())
    await last
    // Let the batch reach the clients before the next one.
    while (counter.received < sent) await new Promise((resolve) => setImmediate(resolve))
  }
  const used = process.cpuUsage(before)
  return (used.user + used.system) / EMITS_PER_BLOCK
}

const servers = { raw: await rawServer(), plugin: await pluginServer() }
const counters = { raw: { received: 0 }, plugin: { received: 0 } }
const sockets = [...(await subscribers(servers.raw.app, counters.raw)), ...(await subscribers(servers.plugin.app, counters.plugin))]
const costs = { raw: [] as number[], plugin: [] as number[] }
await block(servers.raw.emit, counters.raw)
await block(servers.plugin.emit, counters.plugin)
for (let round = 0; round < rounds; round++) {
  costs.raw.push(await block(servers.raw.emit, counters.raw))
  costs.plugin.push(await block(servers.plugin.emit, counters.plugin))
}
const raw = median(costs.raw)
const plugin = median(costs.plugin)
// Neighbouring blocks see the same machine load, so their difference is steadier than the medians.
const overhead = median(costs.plugin.map((cost, round) => cost - (costs.raw[round] as number)))
console.log(JSON.stringify({
  rawUsPerEmit: Number(raw.toFixed(2)),
  pluginUsPerEmit: Number(plugin.toFixed(2)),
  pluginOverheadUs: Number(overhead.toFixed(2)),
  ratio: Number((plugin / raw).toFixed(3)),
  rounds,
}))
for (const socket of sockets) socket.disconnect()
await Promise.all([servers.raw.app.close(), servers.plugin.app.close()])
