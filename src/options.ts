import type { SignPayloadType, UserType } from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import type { ServerOptions, Socket } from 'socket.io'
import { compileTrustProxy, type TrustFunction, type TrustProxy } from './client-address.ts'
import { InvalidOptionError } from './errors.ts'
import { type Duration, durationToMs } from './replay/duration.ts'
import { MEMORY_STORE_DEFAULTS, memoryReplayStore } from './replay/memory-replay-store.ts'
import type { ReplayStore } from './replay/replay-store.ts'

/**
 * What `request.user` is on the app's REST routes: `FastifyJWT['user']` where the app declared
 * it (through `@fastify/jwt`'s `FastifyJWT` interface), else its `payload`, exactly as
 * `@fastify/jwt` types `request.user`.
 */
export type AgentEventsUser = UserType

/** `@fastify/jwt`'s `formatUser`: the verified payload in, `request.user` out. */
export type FormatUser = (payload: SignPayloadType) => UserType

export type TokenSource = 'auth' | 'header' | 'cookie'

interface AuthorizeContextBase {
  user: AgentEventsUser
  userId: string
  workflowId: string
}

/** A socket's `agent:subscribe`. */
export interface SocketAuthorizeContext extends AuthorizeContextBase {
  socket: Socket
  request?: undefined
}

/** An agent UI route (`reply.agUi`…): the HTTP request that asks, and no socket. */
export interface RequestAuthorizeContext extends AuthorizeContextBase {
  request: FastifyRequest
  socket?: undefined
}

/** Who asks to follow which workflow: over a socket (`socket` is set) or an HTTP route (`request` is set). */
export type AuthorizeContext = SocketAuthorizeContext | RequestAuthorizeContext

/** May this user follow this workflow? Throwing, rejecting or timing out denies. */
export type AuthorizeHook = (context: AuthorizeContext) => boolean | Promise<boolean>

export interface RateLimitRule {
  max: number
  timeWindow: Duration
}

export interface AgentEventsOptions {
  /** Socket.IO path; must start with `/`; a trailing `/` is dropped. Default `'/socket.io'`. */
  path?: string
  /** Socket.IO namespace that the plugin owns. Default `'/'`. */
  namespace?: string
  /** Cross-origin policy as Socket.IO takes it. Default: same-origin only. */
  cors?: { origin?: string | string[]; credentials?: boolean }
  auth?: {
    /** Where the JWT is read, in order. Default `['auth', 'header']`; query strings never. */
    tokenFrom?: TokenSource[]
    /** Claim that names the user. Default `'sub'`. */
    userIdClaim?: string
    /** Passed to `fastify.jwt.verify` (algorithms, allowed audiences, issuers…). */
    verify?: Record<string, unknown>
    /** Refuse tokens without `exp`. Default `true`. */
    requireExp?: boolean
    /**
     * The `formatUser` given to `@fastify/jwt`, if any: `@fastify/jwt` applies it inside
     * `request.jwtVerify()` and does not expose it, so pass the same function here for sockets
     * to see the `request.user` that routes see.
     */
    formatUser?: FormatUser
  }
  /** May this user follow this workflow? Default: every authenticated user (a warning is logged). */
  authorize?: AuthorizeHook
  /** Handshake and message limits, or `false` for none. */
  rateLimit?: false | { connection?: RateLimitRule; message?: RateLimitRule }
  /**
   * The `trustProxy` given to Fastify (Fastify does not expose it): the handshake limit then keys
   * on the `request.ip` that routes see. Default: the peer address, no proxy trusted.
   */
  trustProxy?: TrustProxy
  /** Per-workflow replay buffer, or `false` for none. */
  replay?: false | { maxEvents?: number; ttl?: Duration; maxWorkflows?: number; store?: ReplayStore }
  /** An `authorize` call slower than this (ms) denies. Default 5000. */
  authorizeTimeout?: number
  /** Workflows one socket may follow at once. Default 100. */
  maxSubscriptions?: number
  /**
   * Unsent bytes over which a socket whose peer takes nothing for `slowConsumerTimeout` is dropped
   * as a slow consumer (at 8 times this, at once). Default 1 MiB.
   */
  maxBufferedBytes?: number
  /** How long a socket over `maxBufferedBytes` may go without its peer taking a byte. Default `'5 seconds'`. */
  slowConsumerTimeout?: Duration
  /**
   * Largest event, in UTF-8 bytes of its JSON as sent (with `seq` and `id`); a larger one makes the
   * emitter reject with `FST_AGENT_EVENTS_EVENT_TOO_LARGE`. Default 262_144, or `maxBufferedBytes`
   * where that is smaller. At most `maxBufferedBytes`.
   */
  maxEventBytes?: number
  /** Token streaming (`fastify.agentEvents.stream()`). */
  streaming?: {
    /**
     * Writes to a message stream within this many milliseconds are recorded as one `agent:delta`.
     * 0 records each write as its own delta. Default 40.
     */
    windowMs?: number
  }
  /** Validate every emitted event against its schema. Default `true`. */
  validate?: boolean
  /** Passed through to the Socket.IO `Server`. */
  socketio?: Partial<ServerOptions>
}

export const DEFAULTS = Object.freeze({
  path: '/socket.io',
  namespace: '/',
  tokenFrom: Object.freeze(['auth', 'header'] as const),
  userIdClaim: 'sub',
  requireExp: true,
  rateLimit: Object.freeze({
    connection: Object.freeze({ max: 60, timeWindow: '1 minute' }),
    message: Object.freeze({ max: 100, timeWindow: '10 seconds' }),
  }),
  authorizeTimeout: 5000,
  maxSubscriptions: 100,
  maxBufferedBytes: 1_048_576,
  slowConsumerTimeout: '5 seconds',
  maxEventBytes: 262_144,
  streamingWindowMs: 40,
  maxHttpBufferSize: 100_000,
  /** A connection that never completes its Socket.IO handshake is closed after this (ms). */
  connectTimeout: 10_000,
})

export interface ResolvedRateLimitRule {
  max: number
  timeWindowMs: number
}

export interface ResolvedOptions {
  path: string
  namespace: string
  cors: { origin?: string | string[]; credentials?: boolean } | undefined
  tokenFrom: readonly TokenSource[]
  userIdClaim: string
  verify: Record<string, unknown>
  requireExp: boolean
  formatUser: FormatUser | undefined
  authorize: AuthorizeHook | undefined
  rateLimit: false | { connection: ResolvedRateLimitRule; message: ResolvedRateLimitRule }
  /** Compiled from `trustProxy`; `undefined` where no proxy is trusted. */
  trustProxy: TrustFunction | undefined
  replayEnabled: boolean
  store: ReplayStore
  /** The plugin made the store, so the plugin closes it. */
  ownsStore: boolean
  authorizeTimeout: number
  maxSubscriptions: number
  maxBufferedBytes: number
  slowConsumerTimeoutMs: number
  maxEventBytes: number
  streamingWindowMs: number
  validate: boolean
  socketio: Partial<ServerOptions>
}

const TOKEN_SOURCES: ReadonlySet<string> = new Set<TokenSource>(['auth', 'header', 'cookie'])
const PATH_PATTERN = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%-]*(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*$/

function fail(option: string, reason: string): never {
  throw new InvalidOptionError(option, reason)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optionalObject(value: unknown, option: string): Record<string, unknown> {
  if (value === undefined) return {}
  if (!isPlainObject(value)) fail(option, 'must be an object')
  return value
}

function positiveInteger(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(option, 'must be a positive integer')
  }
  return value
}

function optionalPositiveInteger(value: unknown, option: string): number | undefined {
  return value === undefined ? undefined : positiveInteger(value, option, 0)
}

function optionalBoolean(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(option, 'must be a boolean')
  return value
}

/** `/ws` and `/ws/` both mean `/ws`; anything that is not an absolute, plain path is refused. */
export function normalizePath(value: unknown): string {
  if (value === undefined) return DEFAULTS.path
  if (typeof value !== 'string') fail('path', 'must be a string starting with "/"')
  const trimmed = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value
  const segments = trimmed.split('/')
  if (
    !trimmed.startsWith('/') ||
    !PATH_PATTERN.test(trimmed) ||
    segments.some((segment) => segment === '.' || segment === '..') ||
    trimmed === '/'
  ) {
    fail('path', `"${value}" is not an absolute path such as "/ws"`)
  }
  return trimmed
}

function resolveNamespace(value: unknown): string {
  if (value === undefined) return DEFAULTS.namespace
  if (typeof value !== 'string' || !/^\/[A-Za-z0-9._~-]*(\/[A-Za-z0-9._~-]+)*$/.test(value)) {
    fail('namespace', 'must be a string such as "/" or "/agents"')
  }
  return value
}

function resolveCors(value: unknown): ResolvedOptions['cors'] {
  if (value === undefined) return undefined
  if (!isPlainObject(value)) fail('cors', 'must be an object { origin, credentials }')
  const { origin, credentials } = value
  const origins = typeof origin === 'string' ? [origin] : origin
  if (origins !== undefined) {
    if (!Array.isArray(origins) || origins.some((entry) => typeof entry !== 'string' || !isOrigin(entry))) {
      fail('cors.origin', 'must be an origin or a list of origins such as "https://app.example.com"')
    }
  }
  if (credentials !== undefined && typeof credentials !== 'boolean') fail('cors.credentials', 'must be a boolean')
  const resolved: { origin?: string | string[]; credentials?: boolean } = {}
  if (origin !== undefined) resolved.origin = origin as string | string[]
  if (credentials !== undefined) resolved.credentials = credentials
  return resolved
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value
  } catch {
    return false
  }
}

/** A duration option in milliseconds: a number of ms or a string such as `'1 minute'`; `example` shows the form in the error. */
function durationOption(value: unknown, option: string, fallback: Duration, example: string): number {
  const given = value ?? fallback
  const ms = typeof given === 'number' || typeof given === 'string' ? durationToMs(given) : undefined
  if (ms === undefined) fail(option, `must be milliseconds or a duration such as "${example}"`)
  return ms
}

function resolveRateLimitRule(value: unknown, option: string, fallback: RateLimitRule): ResolvedRateLimitRule {
  const rule = value === undefined ? fallback : value
  if (!isPlainObject(rule)) fail(option, 'must be an object { max, timeWindow }')
  const max = positiveInteger(rule.max, `${option}.max`, fallback.max)
  const timeWindowMs = durationOption(rule.timeWindow, `${option}.timeWindow`, fallback.timeWindow, '1 minute')
  return { max, timeWindowMs }
}

function resolveRateLimit(value: unknown): ResolvedOptions['rateLimit'] {
  if (value === false) return false
  const rateLimit = optionalObject(value, 'rateLimit')
  return {
    connection: resolveRateLimitRule(rateLimit.connection, 'rateLimit.connection', DEFAULTS.rateLimit.connection),
    message: resolveRateLimitRule(rateLimit.message, 'rateLimit.message', DEFAULTS.rateLimit.message),
  }
}

function resolveTrustProxy(value: unknown): TrustFunction | undefined {
  const isAddressList = Array.isArray(value) && value.every((entry) => typeof entry === 'string')
  if (
    value !== undefined &&
    typeof value !== 'boolean' &&
    typeof value !== 'string' &&
    typeof value !== 'function' &&
    !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) &&
    !isAddressList
  ) {
    fail('trustProxy', 'must be what Fastify\'s trustProxy takes: a boolean, an address or range (or a list of them), or a function (address, hop) => boolean')
  }
  try {
    return compileTrustProxy(value as TrustProxy | number | undefined)
  } catch (error) {
    fail('trustProxy', (error as Error).message)
  }
}

function isReplayStore(value: unknown): value is ReplayStore {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Record<string, unknown>
  return ['append', 'read', 'watch', 'close'].every((method) => typeof candidate[method] === 'function')
}

function resolveReplay(value: unknown): Pick<ResolvedOptions, 'replayEnabled' | 'store' | 'ownsStore'> {
  // With replay off, events still get `seq` numbers: the store then keeps counters, no events.
  if (value === false) return { replayEnabled: false, store: memoryReplayStore({ maxEvents: 0 }), ownsStore: true }
  const replay = optionalObject(value, 'replay')
  if (replay.store !== undefined) {
    if (!isReplayStore(replay.store)) fail('replay.store', 'must implement ReplayStore (append, read, watch, close)')
    for (const key of ['maxEvents', 'ttl', 'maxWorkflows']) {
      if (replay[key] !== undefined) fail(`replay.${key}`, 'belongs to the store: pass it to the store you give as replay.store')
    }
    return { replayEnabled: true, store: replay.store, ownsStore: false }
  }
  const maxEvents = positiveInteger(replay.maxEvents, 'replay.maxEvents', MEMORY_STORE_DEFAULTS.maxEvents)
  const maxWorkflows = positiveInteger(replay.maxWorkflows, 'replay.maxWorkflows', MEMORY_STORE_DEFAULTS.maxWorkflows)
  // Checked here, so that a bad ttl fails as an option; the store keeps the form it was given.
  durationOption(replay.ttl, 'replay.ttl', MEMORY_STORE_DEFAULTS.ttl, '1 hour')
  const ttl = (replay.ttl ?? MEMORY_STORE_DEFAULTS.ttl) as Duration
  return { replayEnabled: true, store: memoryReplayStore({ maxEvents, ttl, maxWorkflows }), ownsStore: true }
}

function resolveAuth(value: unknown): Pick<ResolvedOptions, 'tokenFrom' | 'userIdClaim' | 'verify' | 'requireExp' | 'formatUser'> {
  const auth = optionalObject(value, 'auth')
  let tokenFrom: readonly TokenSource[] = DEFAULTS.tokenFrom
  if (auth.tokenFrom !== undefined) {
    const sources = auth.tokenFrom
    if (
      !Array.isArray(sources) ||
      sources.length === 0 ||
      sources.some((source) => typeof source !== 'string' || !TOKEN_SOURCES.has(source))
    ) {
      fail('auth.tokenFrom', 'must be a non-empty list of "auth", "header" or "cookie" (query strings are never read)')
    }
    tokenFrom = [...new Set(sources as TokenSource[])]
  }
  const userIdClaim = auth.userIdClaim ?? DEFAULTS.userIdClaim
  if (typeof userIdClaim !== 'string' || userIdClaim.length === 0) fail('auth.userIdClaim', 'must be a non-empty string')
  const verify = optionalObject(auth.verify, 'auth.verify')
  if (auth.formatUser !== undefined && typeof auth.formatUser !== 'function') {
    fail('auth.formatUser', 'must be the function given to @fastify/jwt as formatUser (payload) => user')
  }
  return {
    tokenFrom,
    userIdClaim,
    verify,
    requireExp: optionalBoolean(auth.requireExp, 'auth.requireExp', DEFAULTS.requireExp),
    formatUser: auth.formatUser as FormatUser | undefined,
  }
}

function resolveFlowControl(options: Record<string, unknown>): Pick<ResolvedOptions, 'maxBufferedBytes' | 'slowConsumerTimeoutMs' | 'maxEventBytes'> {
  const givenBuffered = optionalPositiveInteger(options.maxBufferedBytes, 'maxBufferedBytes')
  const givenEvent = optionalPositiveInteger(options.maxEventBytes, 'maxEventBytes')
  if (givenBuffered !== undefined && givenEvent !== undefined && givenEvent > givenBuffered) {
    fail('maxEventBytes', `must not exceed maxBufferedBytes (${givenBuffered}): a client could not hold one such event`)
  }
  // Whichever of the two is given alone moves the other's default, so that one event always fits.
  const maxEventBytes = givenEvent ?? Math.min(DEFAULTS.maxEventBytes, givenBuffered ?? DEFAULTS.maxBufferedBytes)
  const maxBufferedBytes = givenBuffered ?? Math.max(DEFAULTS.maxBufferedBytes, maxEventBytes)
  const slowConsumerTimeoutMs = durationOption(options.slowConsumerTimeout, 'slowConsumerTimeout', DEFAULTS.slowConsumerTimeout, '5 seconds')
  return { maxBufferedBytes, slowConsumerTimeoutMs, maxEventBytes }
}

/** Longest coalescing window: past this, a stream would look stalled to anyone watching it. */
const MOST_STREAMING_WINDOW_MS = 10_000

function resolveStreaming(value: unknown): number {
  const streaming = optionalObject(value, 'streaming')
  for (const key of Object.keys(streaming)) {
    if (key !== 'windowMs') fail(`streaming.${key}`, 'is not an option of streaming (windowMs)')
  }
  const windowMs = streaming.windowMs ?? DEFAULTS.streamingWindowMs
  if (!Number.isSafeInteger(windowMs) || (windowMs as number) < 0 || (windowMs as number) > MOST_STREAMING_WINDOW_MS) {
    fail('streaming.windowMs', `must be an integer from 0 to ${MOST_STREAMING_WINDOW_MS} (milliseconds)`)
  }
  return windowMs as number
}

/** Check every option before anything else happens; a bad one throws `FST_AGENT_EVENTS_INVALID_OPTION`. */
export function resolveOptions(raw: unknown): ResolvedOptions {
  const options = optionalObject(raw, 'options')
  const known = new Set([
    'path', 'namespace', 'cors', 'auth', 'authorize', 'rateLimit', 'trustProxy', 'replay', 'authorizeTimeout',
    'maxSubscriptions', 'maxBufferedBytes', 'slowConsumerTimeout', 'maxEventBytes', 'streaming', 'validate',
    'socketio',
  ])
  for (const key of Object.keys(options)) {
    if (!known.has(key)) fail(key, 'is not an option of fastify-agent-events')
  }
  if (options.authorize !== undefined && typeof options.authorize !== 'function') {
    fail('authorize', 'must be a function ({ user, userId, workflowId, socket }) => boolean | Promise<boolean>')
  }
  const socketio = optionalObject(options.socketio, 'socketio')
  if (socketio.path !== undefined) fail('socketio.path', 'use the plugin\'s own "path" option')
  if (socketio.cors !== undefined) fail('socketio.cors', 'use the plugin\'s own "cors" option')
  if (socketio.allowRequest !== undefined) fail('socketio.allowRequest', 'is owned by the plugin (path and origin checks)')
  return {
    path: normalizePath(options.path),
    namespace: resolveNamespace(options.namespace),
    cors: resolveCors(options.cors),
    ...resolveAuth(options.auth),
    authorize: options.authorize as AuthorizeHook | undefined,
    rateLimit: resolveRateLimit(options.rateLimit),
    trustProxy: resolveTrustProxy(options.trustProxy),
    authorizeTimeout: positiveInteger(options.authorizeTimeout, 'authorizeTimeout', DEFAULTS.authorizeTimeout),
    maxSubscriptions: positiveInteger(options.maxSubscriptions, 'maxSubscriptions', DEFAULTS.maxSubscriptions),
    ...resolveFlowControl(options),
    streamingWindowMs: resolveStreaming(options.streaming),
    validate: optionalBoolean(options.validate, 'validate', true),
    socketio: {
      maxHttpBufferSize: DEFAULTS.maxHttpBufferSize,
      connectTimeout: DEFAULTS.connectTimeout,
      ...socketio,
    } as Partial<ServerOptions>,
    // Last: the only step with a side effect (a memory store's sweep timer), so it never runs
    // for options that fail above.
    ...resolveReplay(options.replay),
  }
}
