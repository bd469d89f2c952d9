import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Socket } from 'socket.io'
import { compileRequestCheck, errorAck, splitArguments } from './client-requests.ts'
import type { ResolvedOptions } from './options.ts'
import { RefreshRequest } from './schemas/index.ts'
import { identityOf } from './socket-identity.ts'
import type { TokenExpiries } from './token-expiry.ts'
import { verifyToken } from './token-verification.ts'

const isRefreshRequest = compileRequestCheck(RefreshRequest)

/**
 * `auth:refresh { token }`: a newer token for the same user extends the socket's life. The token
 * is verified exactly as at the handshake; a token of another user is refused with `FORBIDDEN`,
 * so a socket's identity never changes. One listener serves every socket (it is called with the
 * socket as `this`).
 */
export function createTokenRefreshHandler(
  fastify: FastifyInstance,
  options: Pick<ResolvedOptions, 'verify' | 'userIdClaim' | 'requireExp' | 'formatUser'>,
  expiries: TokenExpiries,
  log: FastifyBaseLogger,
): (this: Socket, ...args: unknown[]) => void {
  return function onRefresh(this: Socket, ...args: unknown[]): void {
    const socket = this
    const { payload, ack } = splitArguments(args)
    const identity = identityOf(socket)
    if (identity === undefined) return ack(errorAck('AUTH_INVALID', 'Not authenticated'))
    if (!isRefreshRequest(payload)) return ack(errorAck('INVALID_REQUEST', 'Expected { token }'))
    const verified = verifyToken(fastify, payload.token, options)
    if (!verified.ok) {
      log.debug({ socketId: socket.id, userId: identity.userId, reason: verified.cause }, 'token refresh refused')
      return ack(errorAck('AUTH_INVALID', 'Invalid or expired token'))
    }
    if (verified.userId !== identity.userId) {
      log.warn({ socketId: socket.id, userId: identity.userId }, 'token refresh for another user refused')
      return ack(errorAck('FORBIDDEN', 'The token belongs to another user'))
    }
    if (verified.expiresAt === undefined) {
      // Only reachable with `auth.requireExp: false`; a refresh exists to move an expiry.
      return ack(errorAck('INVALID_REQUEST', 'A refresh token must carry exp'))
    }
    identity.user = verified.user
    identity.expiresAt = verified.expiresAt
    expiries.track(socket)
    ack({ ok: true, expiresAt: new Date(verified.expiresAt).toISOString() })
  }
}
