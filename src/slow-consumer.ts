import type { FastifyBaseLogger } from 'fastify'
import type { Socket } from 'socket.io'

/** The parts of engine.io's connection that hold unsent data. */
interface EnginePacket {
  data?: unknown
}
interface EngineConnection {
  writeBuffer: EnginePacket[]
  transport: { name?: string; socket?: { bufferedAmount?: unknown; terminate?: () => void } }
  on(event: 'packetCreate', listener: (packet: EnginePacket) => void): void
  on(event: 'flush', listener: () => void): void
  off(event: string, listener: (...args: never[]) => void): void
  close(discard: boolean): void
}

function byteSize(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength
  return 0
}

/** How long a socket may stay above `maxBufferedBytes` without its transport taking any data. */
export const SLOW_CONSUMER_GRACE_MS = 1000
/** Above this multiple of `maxBufferedBytes` a socket is dropped at once, progress or not. */
export const SLOW_CONSUMER_HARD_FACTOR = 4

/** What the guard keeps per connection: a few numbers, no closures. */
interface ConsumerState {
  socket: Socket
  /** Bytes in `writeBuffer`, counted as packets are queued; a flush hands all of them to the transport. */
  queued: number
  /** Flushes so far: a flush means the transport finished its previous write, so the peer is reading. */
  flushes: number
  graceTimer: NodeJS.Timeout | undefined
}

const STATE = Symbol('fastify-agent-events.slowConsumer')
type WatchedConnection = EngineConnection & { [STATE]?: ConsumerState }

/**
 * Disconnect a socket whose unsent data passes `maxBufferedBytes` while its peer stops taking it:
 * one stalled tab must not grow the server's memory without bound. Unsent data is what engine.io
 * queues while the transport is busy (`writeBuffer`, which fills once the peer stops reading) plus
 * what the websocket has handed to the TCP socket without the kernel taking it yet
 * (`bufferedAmount`).
 *
 * A healthy client can be above the limit for a moment (a replay sends a whole page of events in
 * one tick), so a socket above it is dropped when its transport takes nothing for
 * `SLOW_CONSUMER_GRACE_MS`, and at once when it passes `SLOW_CONSUMER_HARD_FACTOR` times the limit,
 * which bounds what the server ever holds for one socket. The client recovers by reconnecting and
 * replaying with `afterSeq`.
 *
 * The listeners are shared by every connection (engine.io calls them with the connection as
 * `this`), so watching a socket costs one small state object.
 */
export interface SlowConsumerGuard {
  watch(socket: Socket): void
  /** Stop watching a socket (it disconnected). */
  unwatch(socket: Socket): void
}

export function createSlowConsumerGuard(maxBufferedBytes: number, log: FastifyBaseLogger): SlowConsumerGuard {
  const hardLimit = maxBufferedBytes * SLOW_CONSUMER_HARD_FACTOR

  const unsent = (conn: EngineConnection, state: ConsumerState): number => {
    const amount = conn.transport.socket?.bufferedAmount
    return state.queued + (typeof amount === 'number' ? amount : 0)
  }

  function onPacket(this: WatchedConnection, packet: EnginePacket): void {
    const state = this[STATE]
    if (state === undefined) return
    state.queued += byteSize(packet.data)
    const bytes = unsent(this, state)
    if (bytes > hardLimit) return drop(this, state, bytes)
    if (bytes > maxBufferedBytes && state.graceTimer === undefined) startGrace(this, state)
  }

  function onFlush(this: WatchedConnection): void {
    const state = this[STATE]
    if (state === undefined) return
    state.queued = 0
    state.flushes++
  }

  function startGrace(conn: WatchedConnection, state: ConsumerState): void {
    const flushesAtStart = state.flushes
    state.graceTimer = setTimeout(() => {
      state.graceTimer = undefined
      if (state.socket.disconnected) return
      const bytes = unsent(conn, state)
      if (bytes <= maxBufferedBytes) return
      if (state.flushes === flushesAtStart) return drop(conn, state, bytes)
      startGrace(conn, state)
    }, SLOW_CONSUMER_GRACE_MS)
    state.graceTimer.unref()
  }

  function detach(conn: WatchedConnection, state: ConsumerState): void {
    clearTimeout(state.graceTimer)
    state.graceTimer = undefined
    conn.off('packetCreate', onPacket)
    conn.off('flush', onFlush)
    delete conn[STATE]
  }

  function drop(conn: WatchedConnection, state: ConsumerState, bytes: number): void {
    const { socket } = state
    detach(conn, state)
    log.warn({ socketId: socket.id, unsentBytes: bytes, maxBufferedBytes }, 'slow consumer disconnected')
    // Let go of the queue now: waiting for it to drain is what a stalled peer never allows.
    conn.writeBuffer.length = 0
    socket.disconnect(true)
    // `discard`: close the transport at once instead of after a drain that will not come.
    conn.close(true)
    // A websocket whose peer stopped reading cannot complete a close handshake: end the TCP connection.
    conn.transport.socket?.terminate?.()
  }

  return {
    watch(socket) {
      const conn = socket.conn as unknown as WatchedConnection
      conn[STATE] = { socket, queued: 0, flushes: 0, graceTimer: undefined }
      conn.on('packetCreate', onPacket)
      conn.on('flush', onFlush)
    },
    unwatch(socket) {
      const conn = socket.conn as unknown as WatchedConnection
      const state = conn[STATE]
      if (state !== undefined) detach(conn, state)
    },
  }
}
