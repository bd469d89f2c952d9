import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { type ExtendedError, Server, type Socket } from 'socket.io'
import { DEFAULTS, type ResolvedOptions } from './options.ts'

export interface AttachedServer {
  io: Server
  /** The plugin created `io`, so the plugin closes it; an app's own `fastify.io` is left to the app. */
  ownsServer: boolean
}

export type RequestCheck = (req: IncomingMessage) => boolean

/** One engine.io session (the transport-level connection under every Socket.IO socket). */
export type EngineSession = Socket['conn']

/**
 * Sees every engine.io session of a server the plugin owns, from its HTTP handshake on: the place
 * for limits that must hold before (or without) any namespace CONNECT.
 */
export interface SessionGate {
  /** Runs in `allowRequest` once the checks passed, for polling and websocket handshakes alike; `false` refuses the request. */
  admit(req: IncomingMessage): Promise<boolean>
  /** Called with every session that opened. */
  opened(session: EngineSession): void
}

/** What Socket.IO itself answers for a namespace that does not exist. */
const INVALID_NAMESPACE = 'Invalid namespace'

/**
 * engine.io answers every URL that merely starts with its path, so `/ws/ws/?EIO=4` would reach a
 * server on `/ws`. Only the path itself (with or without its trailing slash) is accepted.
 */
export function exactPathCheck(path: string): RequestCheck {
  const accepted = new Set([path, `${path}/`])
  return (req) => {
    const url = req.url ?? ''
    const queryStart = url.indexOf('?')
    return accepted.has(queryStart === -1 ? url : url.slice(0, queryStart))
  }
}

/** Attach a Socket.IO server to Fastify's HTTP server, or reuse the one an app already decorated as `fastify.io`. */
export function attachSocketServer(
  fastify: FastifyInstance,
  options: ResolvedOptions,
  checks: readonly RequestCheck[],
  gate?: SessionGate,
): AttachedServer {
  if (fastify.hasDecorator('io')) {
    const io = (fastify as unknown as { io: unknown }).io
    if (io instanceof Server || isSocketServerLike(io)) return { io: io as Server, ownsServer: false }
  }
  const io = new Server(fastify.server, {
    // Other upgrade requests (for instance @fastify/websocket's) must stay untouched.
    destroyUpgrade: false,
    ...options.socketio,
    // Connection-state recovery would skip the authentication middleware on recovered sockets.
    ...(options.socketio.connectionStateRecovery === undefined
      ? {}
      : { connectionStateRecovery: { ...options.socketio.connectionStateRecovery, skipMiddlewares: false } }),
    path: options.path,
    ...(options.cors === undefined ? {} : { cors: options.cors }),
    // engine.io calls this for every handshake (a request without a session id), never for the
    // later requests of a session, so each session is judged exactly once.
    allowRequest: (req, callback) => {
      if (!checks.every((check) => check(req))) return callback('Forbidden', false)
      if (gate === undefined) return callback(null, true)
      gate.admit(req).then(
        (allowed) => callback(allowed ? null : 'Forbidden', allowed),
        () => callback('Forbidden', false),
      )
    },
  })
  if (gate !== undefined) io.engine.on('connection', (session: EngineSession) => gate.opened(session))
  acceptOnlyNamespace(io, options.namespace)
  dropSessionsThatJoinNothing(io, options.namespace, options.socketio.connectTimeout ?? DEFAULTS.connectTimeout)
  return { io, ownsServer: true }
}

/**
 * A session that has joined no namespace when `connectTimeout` passes is dropped at once.
 * Socket.IO closes it then too, but in an orderly way: for a polling session whose client does
 * not poll again, engine.io then waits 30 s more (its close timeout) before letting it go. This
 * timer is set before Socket.IO's own (a listener put first), so with the same delay it runs first.
 */
function dropSessionsThatJoinNothing(io: Server, name: string, connectTimeoutMs: number): void {
  // Shared functions and no entry left once a session has joined: a connection keeps nothing here.
  const pending = new WeakMap<EngineSession, NodeJS.Timeout>()
  const drop = (session: EngineSession): void => session.close(true)
  function settle(session: EngineSession): void {
    clearTimeout(pending.get(session))
    pending.delete(session)
  }
  function onClose(this: EngineSession): void {
    settle(this)
  }
  io.engine.prependListener('connection', (session: EngineSession) => {
    pending.set(session, setTimeout(drop, connectTimeoutMs, session))
    session.once('close', onClose)
  })
  io.of(name).on('connection', (socket) => {
    const session = socket.conn as unknown as EngineSession
    settle(session)
    session.off('close', onClose)
  })
}

/**
 * Socket.IO's main namespace `/` always exists, so where the plugin owns `/agents`, a client could
 * connect to `/` without a token, past every middleware of the plugin. Every namespace but the
 * plugin's refuses connections as an unknown one would (`connect_error` `Invalid namespace`); the
 * engine.io session that asked then joined nothing, and Socket.IO closes it after `connectTimeout`.
 */
function acceptOnlyNamespace(io: Server, name: string): void {
  const refuse = (_socket: Socket, next: (error?: ExtendedError) => void): void => next(new Error(INVALID_NAMESPACE))
  if (name !== '/') io.of('/').use(refuse)
  // Namespaces created later through the `io` escape hatch, dynamic ones included, are refused too.
  io.on('new_namespace', (namespace) => {
    if (namespace.name !== name) namespace.use(refuse)
  })
}

function isSocketServerLike(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { of?: unknown }).of === 'function' &&
    typeof (value as { close?: unknown }).close === 'function'
  )
}
