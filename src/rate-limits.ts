import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit'
import type { ExtendedError, Socket } from 'socket.io'
import { type ClientAddress, createClientAddressResolver } from './client-address.ts'
import { errorAck } from './client-requests.ts'
import { handshakeError } from './handshake-auth.ts'
import type { ResolvedOptions, ResolvedRateLimitRule } from './options.ts'
import { identityOf } from './socket-identity.ts'

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
 * this is the one place where a request-like object is made from it.
 */
function rateLimitRequest(socket: Socket, address: { ip: string; ips: string[] }, path: string): FastifyRequest {
  const raw = socket.request
  return {
    id: `socket:${socket.id}`,
    ip: address.ip,
    ips: address.ips,
    headers: raw.headers,
    raw,
    socket: raw.socket,
    method: 'GET',
    url: path,
    routeOptions: { url: path, method: 'GET', config: {} },
    user: identityOf(socket)?.user,
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

async function judge(limiter: Limiter, req: FastifyRequest, log: FastifyBaseLogger, what: string): Promise<RateLimitVerdict> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STORE_TIMEOUT_MS)
  })
  try {
    const result = await Promise.race([limiter(req), timeout])
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
  } finally {
    clearTimeout(timer)
  }
}

/** Answer a refused message's acknowledgement, if it asked for one. */
function refuseMessage(packet: unknown[], retryAfterMs: number): void {
  const ack = packet.at(-1)
  if (typeof ack === 'function') ack(errorAck('RATE_LIMITED', 'Too many requests, slow down', { retryAfterMs }))
}

export interface RateLimits {
  /** Namespace middleware: handshakes per client IP (Fastify's `trustProxy` respected). */
  handshake(socket: Socket, next: Next): void
  /** Install the per-user message limit on an authenticated socket. */
  limitMessages(socket: Socket): void
}

export async function createRateLimits(
  fastify: FastifyInstance,
  options: Pick<ResolvedOptions, 'rateLimit' | 'path'>,
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
  let addressOf = createClientAddressResolver(fastify)
  if (addressOf === undefined) {
    log.warn('cannot read Fastify\'s trustProxy rules: handshakes are limited by peer address')
    addressOf = (req): ClientAddress => {
      const ip = req.socket.remoteAddress ?? ''
      return { ip, ips: [ip] }
    }
  }
  const path = options.path

  const messageAddressOf = addressOf

  /** A message's check, with its request-like object made for it; it never rejects, so a socket's chain of checks never breaks. */
  async function judgeMessage(socket: Socket, userId: string): Promise<RateLimitVerdict> {
    let req: MessageRequest
    try {
      req = Object.assign(rateLimitRequest(socket, messageAddressOf(socket.request), path), { userId })
    } catch (error) {
      log.warn({ err: error, limit: 'message' }, 'rate-limit check failed: message let through')
      return { ok: true }
    }
    return judge(messageLimiter, req, log, 'message')
  }

  return {
    handshake(socket, next) {
      const req = rateLimitRequest(socket, addressOf(socket.request), path)
      void judge(handshakeLimiter, req, log, 'connection').then((verdict) => {
        if (verdict.ok) return next()
        log.debug({ ip: req.ip }, 'handshake refused: rate limited')
        next(handshakeError('RATE_LIMITED', { retryAfterMs: verdict.retryAfterMs }))
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
