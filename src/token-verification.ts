import type { SignPayloadType } from '@fastify/jwt'
import type { FastifyInstance } from 'fastify'
import type { HandshakeErrorCode } from './schemas/index.ts'
import type { AgentEventsUser, ResolvedOptions } from './options.ts'

/** Tokens longer than this are refused before any decoding: no JWT we issue comes near it. */
export const MAX_TOKEN_BYTES = 8192

export type VerifiedToken = { ok: true; user: AgentEventsUser; userId: string; expiresAt: number | undefined }
export type RefusedToken = { ok: false; code: Exclude<HandshakeErrorCode, 'AUTH_REQUIRED' | 'RATE_LIMITED'>; cause: string }

/** The one place where the verifier's failures become client codes. Its text never reaches a client. */
function codeOfVerifierError(error: unknown): RefusedToken {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  if (code === 'FAST_JWT_EXPIRED') return { ok: false, code: 'AUTH_EXPIRED', cause: code }
  return { ok: false, code: 'AUTH_INVALID', cause: typeof code === 'string' ? code : 'VERIFY_FAILED' }
}

/**
 * The user id that a token's claims (or `request.user`) name under `userIdClaim`: a non-empty
 * string, or a finite number as its string; `undefined` otherwise.
 */
export function userIdOf(claims: Record<string, unknown>, userIdClaim: string): string | undefined {
  const claim = claims[userIdClaim]
  const userId = typeof claim === 'number' && Number.isFinite(claim) ? String(claim) : claim
  return typeof userId === 'string' && userId.length > 0 ? userId : undefined
}

/** Verify a JWT exactly as the app's REST routes do, through `fastify.jwt.verify`. */
export function verifyToken(
  fastify: FastifyInstance,
  token: unknown,
  options: Pick<ResolvedOptions, 'verify' | 'userIdClaim' | 'requireExp' | 'formatUser'>,
): VerifiedToken | RefusedToken {
  if (typeof token !== 'string' || token.length === 0) return { ok: false, code: 'AUTH_INVALID', cause: 'NOT_A_STRING' }
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) return { ok: false, code: 'AUTH_INVALID', cause: 'TOO_LARGE' }
  let payload: unknown
  try {
    // With any options object, even an empty one, @fastify/jwt builds a new verifier per call.
    payload = Object.keys(options.verify).length > 0 ? fastify.jwt.verify(token, options.verify) : fastify.jwt.verify(token)
  } catch (error) {
    return codeOfVerifierError(error)
  }
  if (typeof payload !== 'object' || payload === null) {
    return { ok: false, code: 'AUTH_INVALID_PAYLOAD', cause: 'NOT_AN_OBJECT' }
  }
  const claims = payload as Record<string, unknown>
  const exp = claims.exp
  if (exp !== undefined && (typeof exp !== 'number' || !Number.isFinite(exp))) {
    return { ok: false, code: 'AUTH_INVALID', cause: 'BAD_EXP' }
  }
  if (exp === undefined && options.requireExp) return { ok: false, code: 'AUTH_INVALID', cause: 'MISSING_EXP' }
  const userId = userIdOf(claims, options.userIdClaim)
  if (userId === undefined || userId.length > 256) {
    return { ok: false, code: 'AUTH_INVALID_PAYLOAD', cause: 'NO_USER_ID' }
  }
  // The user id and expiry are claims of the token; `user` is what the app's routes see as `request.user`.
  let user: AgentEventsUser
  try {
    user = options.formatUser === undefined ? (payload as AgentEventsUser) : options.formatUser(payload as SignPayloadType)
  } catch {
    return { ok: false, code: 'AUTH_INVALID_PAYLOAD', cause: 'FORMAT_USER_FAILED' }
  }
  return { ok: true, user, userId, expiresAt: exp === undefined ? undefined : exp * 1000 }
}
