import type { FastifyBaseLogger } from 'fastify'
import type { Namespace, Socket } from 'socket.io'
import { identityOf } from './socket-identity.ts'
import { closeTransport, handedBytes, unsentBytes } from './transport-backlog.ts'

/** How often every socket's unsent bytes are looked at: never at the instant of a write. */
export const SLOW_CONSUMER_SAMPLE_MS = 250
/** Past this multiple of `maxBufferedBytes` at a sample, a socket is dropped whether or not its peer reads. */
export const SLOW_CONSUMER_HARD_FACTOR = 8

export interface SlowConsumerLimits {
  maxBufferedBytes: number
  slowConsumerTimeoutMs: number
}

export interface SlowConsumerGuard {
  /** Stop the clock; sockets are left alone (closing the server disconnects them). */
  close(): void
}

/** A socket over `maxBufferedBytes` at the latest sample: the transport's progress when last seen to move. */
interface Behind {
  handed: number
  since: number
}

/**
 * Drop the connection of a socket that has fallen behind for good, so that one stalled tab cannot
 * grow the server's memory: its unsent bytes (see `unsentBytes`) are over `maxBufferedBytes` and
 * its transport has handed nothing to the peer for `slowConsumerTimeoutMs`, or they are over
 * `SLOW_CONSUMER_HARD_FACTOR` × `maxBufferedBytes`.
 *
 * A client that keeps reading may be far above `maxBufferedBytes` for a while (a burst, a large
 * result), so bytes are judged over time: one clock samples every socket of the namespace; only a
 * socket found over the limit gets a small record until it is back under it, so a connection
 * costs nothing here. The drop closes the transport, never with a Socket.IO disconnect packet:
 * socket.io-client reconnects by itself and catches up by replay.
 */
export function createSlowConsumerGuard(namespace: Namespace, limits: SlowConsumerLimits, log: FastifyBaseLogger): SlowConsumerGuard {
  const { maxBufferedBytes, slowConsumerTimeoutMs } = limits
  const hardLimit = maxBufferedBytes * SLOW_CONSUMER_HARD_FACTOR
  const behind = new Map<Socket, Behind>()

  function drop(socket: Socket, unsent: number): void {
    behind.delete(socket)
    if (!closeTransport(socket)) return
    log.warn({ socketId: socket.id, userId: identityOf(socket)?.userId, unsentBytes: unsent }, 'slow consumer disconnected')
  }

  function sample(): void {
    const now = Date.now()
    for (const socket of behind.keys()) if (socket.disconnected) behind.delete(socket)
    for (const socket of namespace.sockets.values()) {
      if (socket.conn.readyState !== 'open') continue
      const unsent = unsentBytes(socket)
      if (unsent <= maxBufferedBytes) {
        if (behind.size > 0) behind.delete(socket)
        continue
      }
      if (unsent > hardLimit) {
        drop(socket, unsent)
        continue
      }
      const handed = handedBytes(socket)
      const record = behind.get(socket)
      if (record === undefined) behind.set(socket, { handed, since: now })
      else if (record.handed !== handed) {
        record.handed = handed
        record.since = now
      } else if (now - record.since >= slowConsumerTimeoutMs) drop(socket, unsent)
    }
  }

  const clock = setInterval(sample, SLOW_CONSUMER_SAMPLE_MS)
  // The clock must not keep a closing server alive.
  clock.unref()

  return {
    close() {
      clearInterval(clock)
      behind.clear()
    },
  }
}
