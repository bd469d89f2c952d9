// The client side of a run, in its own process: many real socket.io-client sockets that connect
// with their own tokens, subscribe, and check what they receive (contiguous seq, emit→receive latency).
import { io, type Socket } from 'socket.io-client'
import { leave, serve } from './ipc.ts'
import { MessageReceiver } from './message-receiver.ts'
import { quantile } from './stats.ts'
import { type Delta, type Result, type Thought, decodeTimes, emittedAt, messageText, now, signToken, workflowOf } from './wire.ts'

const WATCHDOG_MS = 5 * 60_000

interface Tracked {
  socket: Socket
  /** Which workflow (and stream) it follows: `wf-<index>` with `own`. */
  index: number
  /** Set by `armMessages`: the streamed message it receives, thoughts included. */
  message?: MessageReceiver
  expected: number
  received: number
  nextSeq: number
  outOfOrder: number
}

const clients: Tracked[] = []
let latencies: Float64Array | undefined
let latencyCount = 0
let receivedTotal = 0
let lastAt = 0
/** Sockets that lost their connection since the last `arm` (the server dropped them, or the transport failed). */
let disconnected = 0
let closing = false
/** Clients that still wait for events; `settle` resolves when it reaches 0. */
let outstanding = 0
let onComplete: (() => void) | undefined

function connect(url: string, sub: string): Promise<Socket> {
  const socket = io(url, {
    auth: { token: signToken(sub) },
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 20_000,
  })
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket))
    socket.once('connect_error', (error) => {
      socket.disconnect()
      reject(error)
    })
  })
}

interface SubscribeAck {
  ok: boolean
  replayed?: number
  compacted?: number
}

async function subscribe(socket: Socket, workflowId: string, afterSeq?: number, compact?: boolean): Promise<SubscribeAck> {
  const request = afterSeq === undefined ? { workflowId } : compact === undefined ? { workflowId, afterSeq } : { workflowId, afterSeq, compact }
  const ack = (await socket.timeout(20_000).emitWithAck('agent:subscribe', request)) as SubscribeAck
  if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`)
  return ack
}

function track(socket: Socket, index: number): Tracked {
  const tracked: Tracked = { socket, index, expected: 0, received: 0, nextSeq: 1, outOfOrder: 0 }
  /** Count the event, and whether it is the next of its workflow. */
  const arrived = (seq: number, at: number): void => {
    lastAt = at
    receivedTotal++
    if (seq !== tracked.nextSeq) tracked.outOfOrder++
    tracked.nextSeq = seq + 1
  }
  socket.on('disconnect', () => {
    if (!closing) disconnected++
  })
  socket.on('agent:delta', (event: Delta) => {
    const at = now()
    arrived(event.seq, at)
    tracked.message?.piece(event.data.text, at)
  })
  socket.on('agent:result', (event: Result) => {
    arrived(event.seq, now())
    if (tracked.message === undefined || tracked.message.ended) return
    tracked.message.end(event.data.content)
    if (--outstanding === 0) onComplete?.()
  })
  socket.on('agent:thought', (event: Thought) => {
    const at = now()
    arrived(event.seq, at)
    if (tracked.message !== undefined) return tracked.message.piece(event.data.content, at)
    if (latencies !== undefined && latencyCount < latencies.length) latencies[latencyCount++] = at - emittedAt(event.data.content)
    if (++tracked.received === tracked.expected && --outstanding === 0) onComplete?.()
  })
  return tracked
}

/** Until every client got what it expects (`outstanding` is 0), or nothing arrived for `stallMs`. */
async function completed(stallMs: number): Promise<void> {
  if (outstanding === 0) return
  await new Promise<void>((resolve) => {
    let seen = -1
    const check = setInterval(() => {
      if (receivedTotal === seen) finish()
      seen = receivedTotal
    }, stallMs)
    const finish = (): void => {
      clearInterval(check)
      onComplete = undefined
      resolve()
    }
    onComplete = finish
  })
}

/** Run `task(0…count-1)` with at most `parallel` in flight. */
async function pool(count: number, parallel: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker))
}

interface OpenArgs {
  url: string
  count: number
  parallel: number
  /** Which workflow client i follows: one for all, one each, or none. */
  workflows: 'shared' | 'own' | 'none'
}

interface ArmArgs {
  /** Events each client must receive. */
  perClient: number
  /** The seq each client expects next (events before it were a warm-up). Default 1. */
  firstSeq?: number
  /** Keep this many emit→receive latencies. */
  latencies?: number
}

serve({
  /** Connect `count` authenticated clients and subscribe each to its workflow. */
  async open({ url, count, parallel, workflows }: OpenArgs) {
    const startedAt = now()
    await pool(count, parallel, async (index) => {
      const socket = await connect(url, `user-${clients.length}`)
      const tracked = track(socket, index)
      if (workflows !== 'none') await subscribe(socket, workflowOf(workflows, index))
      clients.push(tracked)
    })
    return { clients: clients.length, durationMs: now() - startedAt }
  },

  /** Start counting: each client now expects `perClient` events, the first with seq `firstSeq`. */
  arm({ perClient, firstSeq = 1, latencies: keep = 0 }: ArmArgs) {
    for (const tracked of clients) Object.assign(tracked, { expected: perClient, received: 0, nextSeq: firstSeq, outOfOrder: 0 })
    outstanding = perClient === 0 ? 0 : clients.length
    receivedTotal = 0
    disconnected = 0
    latencies = keep > 0 ? new Float64Array(keep) : undefined
    latencyCount = 0
  },

  /** Wait until every client got what it expects, or until nothing arrives for `stallMs`; report losses. */
  async settle({ stallMs = 5000 }: { stallMs?: number }) {
    await completed(stallMs)
    let expected = 0
    let received = 0
    let outOfOrder = 0
    for (const tracked of clients) {
      expected += tracked.expected
      received += Math.min(tracked.received, tracked.expected)
      outOfOrder += tracked.outOfOrder
    }
    const kept = latencies?.subarray(0, latencyCount)
    return {
      expected,
      received,
      lost: expected - received,
      outOfOrder,
      disconnected,
      lastAt,
      latencyP50Ms: kept === undefined ? undefined : quantile(kept, 0.5),
      latencyP99Ms: kept === undefined ? undefined : quantile(kept, 0.99),
    }
  },

  /** `count` handshakes with a fresh token each, `parallel` at a time; each socket leaves once connected. */
  async handshakes({ url, count, parallel }: { url: string; count: number; parallel: number }) {
    let failed = 0
    const startedAt = now()
    await pool(count, parallel, async (index) => {
      try {
        const socket = await connect(url, `visitor-${index}`)
        socket.disconnect()
      } catch {
        failed++
      }
    })
    return { durationMs: now() - startedAt, connected: count - failed, failed }
  },

  /** The first client follows `workflowId` live from now on. */
  async follow({ workflowId }: { workflowId: string }) {
    const first = clients[0]
    if (first === undefined) throw new Error('open a client first')
    await subscribe(first.socket, workflowId)
  },

  /** The first client subscribes with `afterSeq: 0` and times the replay of `expected` events. */
  async replay({ workflowId, expected }: { workflowId: string; expected: number }) {
    const first = clients[0]
    if (first === undefined) throw new Error('open a client first')
    Object.assign(first, { expected, received: 0, nextSeq: 1, outOfOrder: 0 })
    outstanding = 1
    const startedAt = now()
    const ack = await subscribe(first.socket, workflowId, 0)
    return {
      durationMs: lastAt - startedAt,
      received: first.received,
      outOfOrder: first.outOfOrder,
      replayed: ack.replayed,
    }
  },

  /** Each client now receives one streamed message of `chunks` chunks: its stream's (see wire.ts `messageText`). */
  armMessages({ chunks }: { chunks: number }) {
    for (const tracked of clients) Object.assign(tracked, { message: new MessageReceiver(messageText(tracked.index, chunks), chunks), outOfOrder: 0 })
    outstanding = clients.length
    receivedTotal = 0
    disconnected = 0
  },

  /**
   * Wait for every message's final event (or a stall), then check each message and, given the
   * writer's `writeTimes`, report write→receive latency over every chunk received.
   */
  async settleMessages({ stallMs = 5000, writeTimes }: { stallMs?: number; writeTimes?: string }) {
    await completed(stallMs)
    const written = writeTimes === undefined ? undefined : decodeTimes(writeTimes)
    let events = 0
    let wrong = 0
    let outOfOrder = 0
    let chunks = 0
    let kept = new Float64Array(0)
    let count = 0
    for (const { message, index, outOfOrder: late } of clients) {
      if (message === undefined) continue
      if (kept.length === 0 && written !== undefined) kept = new Float64Array(clients.length * message.chunks)
      events += message.events
      chunks += message.chunks
      outOfOrder += late
      if (message.wrong()) wrong++
      if (written === undefined) continue
      for (let chunk = 0; chunk < message.chunks; chunk++) {
        const at = message.receivedAt[chunk] as number
        if (at > 0) kept[count++] = at - (written[index * message.chunks + chunk] as number)
      }
    }
    const latenciesMs = kept.subarray(0, count)
    return {
      events,
      chunks,
      wrong,
      outOfOrder,
      disconnected,
      lastAt,
      latencyP50Ms: quantile(latenciesMs, 0.5),
      latencyP99Ms: quantile(latenciesMs, 0.99),
    }
  },

  /**
   * The first client subscribes to `workflowId` with `afterSeq: 0` (and `compact`), where one
   * message of `chunks` chunks (stream 0's text) ended with seq `lastSeq`: the events received
   * before the ack, how long to the ack, and whether they rebuild the message; then it unsubscribes.
   */
  async replayMessage({ workflowId, compact, chunks, lastSeq }: { workflowId: string; compact: boolean; chunks: number; lastSeq: number }) {
    const first = clients[0]
    if (first === undefined) throw new Error('open a client first')
    const message = new MessageReceiver(messageText(0, chunks), chunks)
    // A compacted replay of a finished message sends its final event alone.
    Object.assign(first, { message, nextSeq: compact ? lastSeq : 1, outOfOrder: 0 })
    outstanding = 1
    const startedAt = now()
    const ack = await subscribe(first.socket, workflowId, 0, compact)
    const durationMs = now() - startedAt
    const events = message.events
    const wrong = message.wrong({ piecesLeftOut: compact })
    await first.socket.timeout(20_000).emitWithAck('agent:unsubscribe', { workflowId })
    delete first.message
    return { events, durationMs, wrong, outOfOrder: first.outOfOrder, replayed: ack.replayed, compacted: ack.compacted }
  },

  close() {
    closing = true
    for (const { socket } of clients) socket.disconnect()
    clients.length = 0
    leave()
  },
})

setTimeout(() => {
  process.stderr.write('bench client: watchdog expired\n')
  process.exit(2)
}, WATCHDOG_MS).unref()
