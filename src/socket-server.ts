import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { Server } from 'socket.io'
import type { ResolvedOptions } from './options.ts'

export interface AttachedServer {
  io: Server
  /** The plugin created `io`, so the plugin closes it; an app's own `fastify.io` is left to the app. */
  ownsServer: boolean
}

export type RequestCheck = (req: IncomingMessage) => boolean

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
    allowRequest: (req, callback) => {
      const allowed = checks.every((check) => check(req))
      callback(allowed ? null : 'Forbidden', allowed)
    },
  })
  return { io, ownsServer: true }
}

function isSocketServerLike(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { of?: unknown }).of === 'function' &&
    typeof (value as { close?: unknown }).close === 'function'
  )
}
