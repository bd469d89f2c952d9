// The server under test, one per run: `raw` is hand-written Socket.IO on a bare Fastify server
// (`io.use` + `fastify.jwt.verify`, `io.to(room).emit`), `plugin` is fastify-agent-events with
// its defaults (validation on, in-memory replay) and the handshake rate limit off, because every
// client connects from 127.0.0.1. Both send the same payloads to the same rooms. A second
// argument (JSON) adds plugin options for one variant of a scenario, e.g. `{"streaming":{"windowMs":0}}`.
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { PerformanceObserver, performance, type EventLoopUtilization } from 'node:perf_hooks'
import { writeHeapSnapshot } from 'node:v8'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { Server, type Namespace } from 'socket.io'
import agentEvents, { type AgentEventsOptions } from 'fastify-agent-events'
import { leave, serve } from './ipc.ts'
import { phaseProfiler } from './profiler.ts'
import { type MessageSink, writeStreams, type WriteArgs } from './stream-writer.ts'
import { SECRET, chunkText, encodeTimes, now, timedContent, workflowOf } from './wire.ts'

type Implementation = 'raw' | 'plugin'
const implementation = process.argv[2] as Implementation
if (implementation !== 'raw' && implementation !== 'plugin') throw new Error('usage: server.ts raw|plugin')

const WORKFLOW_ID = /^[A-Za-z0-9._:-]{1,128}$/
/** A run that hangs is a bug in the bench: never let it outlive the suite. */
const WATCHDOG_MS = 5 * 60_000

// Set by run.ts for --profile: a CPU profile of the measured phase goes to that directory.
const profiler = await phaseProfiler(process.env.BENCH_PROFILE_DIR, process.env.BENCH_PROFILE_NAME ?? `server-${process.pid}`)

const app = Fastify({ logger: false })
await app.register(fastifyJwt, { secret: SECRET })

let namespace: Namespace
/** Emit one thought to a workflow's subscribers; the plugin's promise settles once it is handed to Socket.IO. */
let emitThought: (workflowId: string, content: string) => Promise<unknown> | undefined
/** Open a message written chunk by chunk to a workflow; `how` is the plugin's choice (raw always emits one delta per chunk). */
let openMessage: (workflowId: string, messageId: string, how: MessageWriting) => MessageSink

/** `stream`: the plugin's `stream()`; `thoughts`: one `emitThought` per chunk, then `emitResult` with the whole text. */
type MessageWriting = 'stream' | 'thoughts'

if (implementation === 'plugin') {
  // BENCH_PLUGIN_OPTIONS (JSON) overrides options, to see what a feature costs, e.g. '{"replay":false}'.
  const overrides = JSON.parse(process.env.BENCH_PLUGIN_OPTIONS ?? '{}') as AgentEventsOptions
  const variantOptions = JSON.parse(process.argv[3] ?? '{}') as AgentEventsOptions
  await app.register(agentEvents, { rateLimit: false, ...variantOptions, ...overrides })
  namespace = app.agentEvents.io.of('/')
  emitThought = (workflowId, content) => app.agentEvents.emitThought(workflowId, content)
  openMessage = (workflowId, messageId, how) => {
    if (how === 'stream') {
      const stream = app.agentEvents.stream(workflowId, { kind: 'result', messageId })
      return { write: (text) => stream.write(text), end: () => stream.end() }
    }
    let content = ''
    return {
      write(text) {
        content += text
        void app.agentEvents.emitThought(workflowId, text)
      },
      end: () => app.agentEvents.emitResult(workflowId, { content_type: 'text', content, messageId }),
    }
  }
} else {
  const io = new Server(app.server, { maxHttpBufferSize: 100_000 })
  app.addHook('preClose', (done) => {
    io.local.disconnectSockets(true)
    done()
  })
  app.addHook('onClose', async () => {
    await io.close()
  })
  namespace = io.of('/')
  namespace.use((socket, next) => {
    try {
      socket.data.user = app.jwt.verify(String((socket.handshake.auth as { token?: unknown }).token))
      next()
    } catch {
      const refused = Object.assign(new Error('Invalid or expired token'), { data: { code: 'AUTH_INVALID' } })
      next(refused)
    }
  })
  namespace.on('connection', (socket) => {
    socket.on('agent:subscribe', (payload: { workflowId?: unknown } | undefined, ack?: (reply: unknown) => void) => {
      const workflowId = payload?.workflowId
      if (typeof workflowId !== 'string' || !WORKFLOW_ID.test(workflowId)) {
        return ack?.({ ok: false, error: { code: 'INVALID_REQUEST', message: 'bad workflowId' } })
      }
      void socket.join(`workflow:${workflowId}`)
      ack?.({ ok: true, workflowId })
    })
  })
  const seqs = new Map<string, number>()
  const emit = (type: string, workflowId: string, data: Record<string, unknown>): undefined => {
    const seq = (seqs.get(workflowId) ?? 0) + 1
    seqs.set(workflowId, seq)
    namespace.to(`workflow:${workflowId}`).emit(`agent:${type}`, {
      type,
      workflowId,
      data,
      timestamp: new Date().toISOString(),
      seq,
      id: randomUUID(),
    })
    return undefined
  }
  emitThought = (workflowId, content) => emit('thought', workflowId, { content })
  openMessage = (workflowId, messageId) => {
    let content = ''
    return {
      write(text) {
        content += text
        emit('delta', workflowId, { messageId, kind: 'result', text })
      },
      end: () => emit('result', workflowId, { content_type: 'text', content, messageId }),
    }
  }
}

await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as AddressInfo

/** Packets queued in engine.io (not yet handed to the kernel) for the most backed-up socket. */
function largestBacklog(): number {
  let largest = 0
  for (const socket of namespace.sockets.values()) {
    const queued = (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length
    if (queued > largest) largest = queued
  }
  return largest
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Wait until no socket holds more than `lowWater` unsent packets; polled gently so it costs no CPU to speak of. */
async function drained(lowWater: number): Promise<void> {
  while (largestBacklog() > lowWater) await tick(2)
}

/** Three full collections, a little apart, so that what is left is what is still referenced. */
async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run the server with --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await tick(20)
  }
}

interface EmitArgs {
  workflows: string[]
  count: number
  batch: number
  /** Size of each thought's content; default ~200 bytes. */
  contentBytes?: number
}

interface PacedArgs {
  workflowId: string
  count: number
  perSecond: number
}

let measuring: { cpu: NodeJS.CpuUsage; elu: EventLoopUtilization; at: number } | undefined
/** Garbage-collection pauses of the main thread since measureStart, in ms. */
let gcMs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration
}).observe({ entryTypes: ['gc'] })

serve({
  port: () => port,

  /** Emit `count` thoughts round-robin over `workflows`, `batch` at a time, each batch once the sockets have drained. */
  async emit({ workflows, count, batch, contentBytes }: EmitArgs) {
    const startedAt = now()
    for (let sent = 0; sent < count; ) {
      const end = Math.min(count, sent + batch)
      let last: Promise<unknown> | undefined
      for (; sent < end; sent++) last = emitThought(workflows[sent % workflows.length] as string, timedContent(contentBytes))
      await last
      await drained(batch)
    }
    return { startedAt, endedAt: now() }
  },

  /** Emit `count` thoughts at a steady `perSecond`, on a schedule that does not drift. */
  async paced({ workflowId, count, perSecond }: PacedArgs) {
    const startedAt = now()
    const interval = 1000 / perSecond
    for (let sent = 0; sent < count; sent++) {
      const due = startedAt + sent * interval
      const wait = due - now()
      if (wait > 0) await tick(wait)
      void emitThought(workflowId, timedContent())
    }
    return { startedAt, endedAt: now() }
  },

  /**
   * Write `streams` messages at once, message s to workflow `wf-<s>` (clients opened with `own`),
   * `perSecond` chunks a second each, then end them. Write times go back encoded (see wire.ts).
   */
  async streamMessages({ how, label, ...args }: WriteArgs & { how: MessageWriting; label: string }) {
    const written = await writeStreams(args, (stream) => openMessage(workflowOf('own', stream), `${label}-${stream}`, how))
    return { ...written, writeTimes: encodeTimes(written.writeTimes) }
  },

  /** Record a whole message of `chunks` chunks (stream 0's text) to `workflowId` with `stream()`, for its replay. */
  async recordMessage({ workflowId, chunks }: { workflowId: string; chunks: number }) {
    if (implementation !== 'plugin') throw new Error('recordMessage needs the plugin')
    const stream = app.agentEvents.stream(workflowId, { kind: 'result', messageId: 'recorded' })
    for (let index = 0; index < chunks; index++) stream.write(chunkText(0, index))
    const final = await stream.end()
    return { lastSeq: final.seq }
  },

  async measureStart() {
    await profiler?.restart()
    gcMs = 0
    measuring = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), at: now() }
  },

  async measureStop() {
    if (measuring === undefined) throw new Error('measureStop before measureStart')
    const cpu = process.cpuUsage(measuring.cpu)
    const elu = performance.eventLoopUtilization(measuring.elu)
    const result = { cpuUs: cpu.user + cpu.system, elu: elu.utilization, wallMs: now() - measuring.at, gcMs }
    measuring = undefined
    await profiler?.save()
    return result
  },

  /** Memory after full collections, so what is left is what the connections hold. */
  async memory() {
    await collectGarbage()
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
    return { rss, heapUsed, external, arrayBuffers, sockets: namespace.sockets.size }
  },

  /** Write a heap snapshot (after full collections) to `path`, for a look at what the connections hold. */
  async heapSnapshot({ path }: { path: string }) {
    await collectGarbage()
    return writeHeapSnapshot(path)
  },

  async close() {
    await profiler?.save()
    await app.close()
    leave()
  },
})

setTimeout(() => {
  process.stderr.write('bench server: watchdog expired\n')
  process.exit(2)
}, WATCHDOG_MS).unref()
