import type { IncomingMessage } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { ExtendedError, Socket } from 'socket.io'
import { type ClientAddress, type ClientAddressResolver, createClientAddressResolver, type TrustFunction } from './client-address.ts'
import { errorAck } from './client-requests.ts'
import { handshakeError } from './handshake-auth.ts'
import { DEFAULTS, type ResolvedOptions, type ResolvedRateLimitRule } from './options.ts'
import { identityOf } from './socket-identity.ts'
import { closeAfterRefusal, createSessionAdmissions } from './session-admissions.ts'
import type { SessionGate } from './socket-server.ts'
import { withTimeout } from './with-timeout.ts'

export type RateLimitVerdict = { ok: true } | { ok: false; retryAfterMs: number }

type Limiter = ReturnType<FastifyInstance['createRateLimit']>
type Next = (error?: ExtendedError) => void
type MessageRequest = FastifyRequest & { userId: string }

/** A store that does not answer within this time is skipped (the request is let through, with a warning). */
const STORE_TIMEOUT_MS = 2000
/** Client messages of one socket waiting for their limit check; beyond this, messages are refused outright. */
const MAX_PENDING_CHECKS = 256

/**
 * `fastify.createRateLimit(opts)(req)` reads `req.ip`, `req.routeOptions.config` and whatever the
 * app's own `keyGenerator` or `allowList` look at. A Socket.IO handshake has no Fastify request, so
 * this is the one place where a request-like object is made from it: from an engine.io handshake
 * request (no socket yet) or from a socket.
 */
function rateLimitRequest(raw: IncomingMessage, address: ClientAddress, path: string, socket?: Socket): FastifyRequest {
  return {
    id: socket === undefined ? 'engine-handshake' : `socket:${socket.id}`,
    ip: address.ip,
    ips: address.ips,
    headers: raw.headers,
    raw,
    socket: raw.socket,
    method: 'GET',
    url: path,
    routeOptions: { url: path, method: 'GET', config: {} },
    user: socket === undefined ? undefined : identityOf(socket)?.user,
  } as unknown as FastifyRequest
}

/**
 * The app's `@fastify/rate-limit` when it registered one (its store, Redis included, is then shared
 * across nodes); otherwise one registered in an encapsulated context, so the app's routes keep no
 * limit they did not ask for.
 */
async function resolveCreateRateLimit(fastify: FastifyInstance): Promise<FastifyInstance['createRateLimit']> {
  if (fastify.hasDecorator('createRateLimit')) return fastify.createRateLimit.bind(fastify)
  let create: FastifyInstance['createRateLimit'] | undefined
  await fastify.register(async (scope) => {
    await scope.register(fastifyRateLimit, { global: false })
    create = scope.createRateLimit.bind(scope)
  })
  if (create === undefined) throw new Error('@fastify/rate-limit did not decorate createRateLimit')
  return create
}

/**
 * Without `trustProxy`, handshakes are limited by peer address. Where they come through a proxy
 * anyway, every client behind it would share one budget: said once in the log.
 */
function addressResolver(trust: TrustFunction | undefined, log: FastifyBaseLogger): ClientAddressResolver {
  const resolve = createClientAddressResolver(trust)
  if (trust !== undefined) return resolve
  let warned = false
  return (req) => {
    if (!warned && req.headers['x-forwarded-for'] !== undefined) {
      warned = true
      log.warn('a handshake carries X-Forwarded-For but the plugin\'s trustProxy is not set: handshakes are limited by peer address (behind a proxy, give the plugin the trustProxy given to Fastify)')
    }
    return resolve(req)
  }
}

async function judge(limiter: Limiter, req: FastifyRequest, log: FastifyBaseLogger, what: string): Promise<RateLimitVerdict> {
  try {
    const result = await withTimeout(Promise.resolve(limiter(req)), STORE_TIMEOUT_MS, () => 'timeout' as const)
    if (result === 'timeout') {
      log.warn({ limit: what }, 'rate-limit store did not answer in time: request let through')
      return { ok: true }
    }
    // `isAllowed` means "on the app's allow-list", not "under the limit".
    if (result.isAllowed) return { ok: true }
    if (!result.isExceeded && !result.isBanned) return { ok: true }
    return { ok: false, retryAfterMs: Math.max(0, Math.ceil(result.ttl)) }
  } catch (error) {
    // Failing open: a rate-limit store outage must not lock every client out.
    log.warn({ err: error, limit: what }, 'rate-limit store failed: request let through')
    return { ok: true }
  }
}

/** Answer a refused message's acknowledgement, if it asked for one. */
function refuseMessage(packet: unknown[], retryAfterMs: number): void {
  const ack = packet.at(-1)
  if (typeof ack === 'function') ack(errorAck('RATE_LIMITED', 'Too many requests, slow down', { retryAfterMs }))
}

export interface RateLimits {
  /**
   * The connection limit on a server the plugin owns: every engine.io session opened counts, at
   * its HTTP handshake, whether or not it ever asks for a namespace.
   */
  sessions: SessionGate
  /**
   * Namespace middleware: refuses a session judged over the limit (`RATE_LIMITED`) and closes it.
   * A CONNECT that no session verdict covers (a server the app brought, or a further CONNECT on
   * the same session) is counted here, per client IP (read with the plugin's `trustProxy`).
   */
  handshake(socket: Socket, next: Next): void
  /** Install the per-user message limit on an authenticated socket. */
  limitMessages(socket: Socket): void
}

export async function createRateLimits(
  fastify: FastifyInstance,
  options: Pick<ResolvedOptions, 'rateLimit' | 'path' | 'socketio' | 'trustProxy'>,
  log: FastifyBaseLogger,
): Promise<RateLimits | undefined> {
  if (options.rateLimit === false) return undefined
  const create = await resolveCreateRateLimit(fastify)
  const limiterFor = (rule: ResolvedRateLimitRule, keyGenerator: (req: FastifyRequest) => string): Limiter =>
    create({ max: rule.max, timeWindow: rule.timeWindowMs, keyGenerator })
  // Handshakes key on the address alone, as the app's routes do, so that an allow-list of IPs applies.
  const handshakeLimiter = limiterFor(options.rateLimit.connection, (req) => normalizeIP(req.ip))
  // Messages key on the user, not the socket: a reconnect must not reset the count.
  const messageLimiter = limiterFor(options.rateLimit.message, (req) => `agent-events:user:${(req as MessageRequest).userId}`)
  const addressOf = addressResolver(options.trustProxy, log)
  const path = options.path
  const admissions = createSessionAdmissions({
    judge: (raw, address) => judge(handshakeLimiter, rateLimitRequest(raw, address, path), log, 'connection'),
    addressOf,
    connectTimeoutMs: options.socketio.connectTimeout ?? DEFAULTS.connectTimeout,
    log,
  })
  const refuse = (next: Next, retryAfterMs: number): void =>
    next(handshakeError('RATE_LIMITED', { retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)) }))

  /** A message's check, with its request-like object made for it; it never rejects, so a socket's chain of checks never breaks. */
  async function judgeMessage(socket: Socket, userId: string): Promise<RateLimitVerdict> {
    let req: MessageRequest
    try {
      req = Object.assign(rateLimitRequest(socket.request, admissions.addressOf(socket.request), path, socket), { userId })
    } catch (error) {
      log.warn({ err: error, limit: 'message' }, 'rate-limit check failed: message let through')
      return { ok: true }
    }
    return judge(messageLimiter, req, log, 'message')
  }

  return {
    sessions: admissions.gate,
    handshake(socket, next) {
      const verdict = admissions.firstConnect(socket.request)
      if (verdict !== undefined) {
        if (verdict.ok) return next()
        log.debug({ socketId: socket.id }, 'handshake refused: rate limited')
        closeAfterRefusal(socket.conn)
        return refuse(next, verdict.retryAfterMs)
      }
      const req = rateLimitRequest(socket.request, admissions.addressOf(socket.request), path, socket)
      void judge(handshakeLimiter, req, log, 'connection').then((verdict) => {
        if (verdict.ok) return next()
        log.debug({ ip: req.ip }, 'handshake refused: rate limited')
        refuse(next, verdict.retryAfterMs)
      })
    },
    limitMessages(socket) {
      const { userId } = identityOf(socket) ?? {}
      if (userId === undefined) return
      // Checks run one after another so that a socket's messages keep their order. An idle socket
      // keeps only this middleware and two variables: the chain of checks exists while messages
      // wait, and the request-like object is made per message (at most `message.max` a window).
      let queue: Promise<void> | undefined
      let pending = 0
      socket.use((packet, next) => {
        if (pending >= MAX_PENDING_CHECKS) return refuseMessage(packet, STORE_TIMEOUT_MS)
        pending++
        queue = (queue ?? Promise.resolve()).then(async () => {
          const verdict = await judgeMessage(socket, userId)
          // The last check waiting: let the chain go, so that nothing is held until the next message.
          if (--pending === 0) queue = undefined
          if (verdict.ok) return next()
          log.debug({ userId }, 'message refused: rate limited')
          refuseMessage(packet, verdict.retryAfterMs)
        })
      })
    },
  }
}

