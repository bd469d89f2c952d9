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
 */
export function watchSlowConsumer(socket: Socket, maxBufferedBytes: number, log: FastifyBaseLogger): void {
  const conn = socket.conn as unknown as EngineConnection
  const hardLimit = maxBufferedBytes * SLOW_CONSUMER_HARD_FACTOR
  // Bytes in `writeBuffer`, counted as packets are queued; a flush hands all of them to the transport.
  let queued = 0
  // Flushes so far: a flush means the transport finished its previous write, so the peer is reading.
  let flushes = 0
  let graceTimer: NodeJS.Timeout | undefined
  const transportBuffered = (): number => {
    const amount = conn.transport.socket?.bufferedAmount
    return typeof amount === 'number' ? amount : 0
  }
  const unsent = (): number => queued + transportBuffered()
  const onPacket = (packet: EnginePacket): void => {
    queued += byteSize(packet.data)
    const bytes = unsent()
    if (bytes > hardLimit) return drop(bytes)
    if (bytes > maxBufferedBytes && graceTimer === undefined) startGrace()
  }
  const startGrace = (): void => {
    const flushesAtStart = flushes
    graceTimer = setTimeout(() => {
      graceTimer = undefined
      const bytes = unsent()
      if (bytes <= maxBufferedBytes) return
      if (flushes === flushesAtStart) return drop(bytes)
      startGrace()
    }, SLOW_CONSUMER_GRACE_MS)
    graceTimer.unref()
  }
  const onFlush = (): void => {
    queued = 0
    flushes++
  }
  const detach = (): void => {
    clearTimeout(graceTimer)
    graceTimer = undefined
    conn.off('packetCreate', onPacket)
    conn.off('flush', onFlush)
  }
  const drop = (bytes: number): void => {
    detach()
    log.warn({ socketId: socket.id, unsentBytes: bytes, maxBufferedBytes }, 'slow consumer disconnected')
    // Let go of the queue now: waiting for it to drain is what a stalled peer never allows.
    conn.writeBuffer.length = 0
    socket.disconnect(true)
    // `discard`: close the transport at once instead of after a drain that will not come.
    conn.close(true)
    // A websocket whose peer stopped reading cannot complete a close handshake: end the TCP connection.
    conn.transport.socket?.terminate?.()
  }
  conn.on('packetCreate', onPacket)
  conn.on('flush', onFlush)
  socket.once('disconnect', detach)
}
