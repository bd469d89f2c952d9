import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { ExtendedError, Socket } from 'socket.io'
import type { HandshakeErrorCode } from './schemas/index.ts'
import type { ResolvedOptions } from './options.ts'
import type { SocketIdentity } from './socket-identity.ts'
import { createTokenExtractor } from './token-extraction.ts'
import { verifyToken } from './token-verification.ts'

const HANDSHAKE_MESSAGES = {
  AUTH_REQUIRED: 'Authentication required',
  AUTH_INVALID: 'Invalid or expired token',
  AUTH_EXPIRED: 'Invalid or expired token',
  AUTH_INVALID_PAYLOAD: 'Invalid token payload',
  RATE_LIMITED: 'Too many connection attempts',
} as const satisfies Record<HandshakeErrorCode, string>

/** The error a refused handshake reaches the client with, as `connect_error`'s `err.message` and `err.data`. */
export function handshakeError(code: HandshakeErrorCode, extra: Record<string, unknown> = {}): ExtendedError {
  const error: ExtendedError = new Error(HANDSHAKE_MESSAGES[code])
  error.data = { code, ...extra }
  return error
}

/** Namespace middleware: every handshake is verified with the app's own `fastify.jwt`. */
export function createHandshakeAuthenticator(
  fastify: FastifyInstance,
  options: ResolvedOptions,
  log: FastifyBaseLogger,
): (socket: Socket, next: (error?: ExtendedError) => void) => void {
  const extractToken = createTokenExtractor(fastify, options.tokenFrom)
  return (socket, next) => {
    const token = extractToken(socket.handshake)
    if (token === undefined) return next(handshakeError('AUTH_REQUIRED'))
    const verified = verifyToken(fastify, token, options)
    if (!verified.ok) {
      log.debug({ reason: verified.cause, ip: socket.handshake.address }, 'handshake refused')
      return next(handshakeError(verified.code))
    }
    const identity: SocketIdentity = {
      user: verified.user,
      userId: verified.userId,
      expiresAt: verified.expiresAt,
    }
    socket.data.agentEvents = identity
    next()
  }
}
