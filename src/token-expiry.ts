import type { FastifyBaseLogger } from 'fastify'
import type { Socket } from 'socket.io'
import type { AuthExpiredNotice } from './schemas/index.ts'
import { identityOf } from './socket-identity.ts'

/** How often due expiries are acted on: well inside the promised second after `exp`. */
export const EXPIRY_TICK_MS = 250

const EXPIRED_NOTICE: AuthExpiredNotice = Object.freeze({ code: 'AUTH_EXPIRED', message: 'Token expired' })

export interface TokenExpiries {
  /** Watch a socket until its current `expiresAt` (again after a refresh moved it). */
  track(socket: Socket): void
  /** Stop watching a socket (it disconnected). */
  untrack(socket: Socket): void
  /** Stop the clock; sockets are left alone (closing the server disconnects them). */
  close(): void
}

/**
 * A connected socket lives no longer than its token: at `exp` (plus the verifier's
 * `clockTolerance`, which let the token in) it gets `auth:expired`, then is disconnected.
 *
 * One clock serves every socket of the plugin: sockets wait in buckets by the tick at which their
 * token expires, so a connection costs one set entry rather than a timer and its closures.
 */
export function createTokenExpiries(clockToleranceMs: number, log: FastifyBaseLogger): TokenExpiries {
  const buckets = new Map<number, Set<Socket>>()
  const bucketOf = new WeakMap<Socket, number>()
  // Ticks count from the clock's start rather than from 1970, so they stay small integers that V8
  // keeps inline (a tick since 1970 is a boxed number: 16 more bytes per socket).
  const origin = Date.now()
  const tickOf = (at: number): number => Math.ceil((at - origin) / EXPIRY_TICK_MS)

  function untrack(socket: Socket): void {
    const tick = bucketOf.get(socket)
    if (tick === undefined) return
    bucketOf.delete(socket)
    const bucket = buckets.get(tick)
    bucket?.delete(socket)
    if (bucket?.size === 0) buckets.delete(tick)
  }

  function expire(socket: Socket): void {
    bucketOf.delete(socket)
    if (socket.disconnected) return
    log.debug({ socketId: socket.id, userId: identityOf(socket)?.userId }, 'token expired: disconnecting')
    socket.emit('auth:expired', EXPIRED_NOTICE)
    socket.disconnect(true)
  }

  const clock = setInterval(() => {
    // Due once the whole tick has passed: a bucket holds expiries up to its end, never later.
    const now = Math.floor((Date.now() - origin) / EXPIRY_TICK_MS)
    for (const [tick, sockets] of buckets) {
      if (tick > now) continue
      buckets.delete(tick)
      for (const socket of sockets) expire(socket)
    }
  }, EXPIRY_TICK_MS)
  // The clock must not keep a closing server alive.
  clock.unref()

  return {
    track(socket) {
      untrack(socket)
      const expiresAt = identityOf(socket)?.expiresAt
      if (expiresAt === undefined || socket.disconnected) return
      const tick = tickOf(expiresAt + clockToleranceMs)
      let bucket = buckets.get(tick)
      if (bucket === undefined) buckets.set(tick, (bucket = new Set()))
      bucket.add(socket)
      bucketOf.set(socket, tick)
    },
    untrack,
    close() {
      clearInterval(clock)
      buckets.clear()
    },
  }
}

/** fast-jwt's `clockTolerance` (milliseconds) from the `auth.verify` options, when given. */
export function clockToleranceOf(verify: Record<string, unknown>): number {
  const tolerance = verify.clockTolerance
  return typeof tolerance === 'number' && Number.isFinite(tolerance) && tolerance > 0 ? tolerance : 0
}
