import { once } from 'node:events'
import { Socket as EngineSocket } from 'engine.io-client'
import type { Test } from 'tap'
import type { TestServer } from './helpers.ts'

export type Transport = 'polling' | 'websocket'
export const TRANSPORTS: readonly Transport[] = ['polling', 'websocket']

/**
 * A bare engine.io session: the transport under Socket.IO, which sends no namespace CONNECT
 * unless told to. Messages are Socket.IO packets in their text encoding: `0` connects to `/`,
 * `0/agents,{"token":"…"}` to `/agents`; `4…` is a CONNECT_ERROR.
 */
export interface EngineSession {
  socket: EngineSocket
  /** Every message received, in order. */
  messages: string[]
  /** Resolves with the close reason, whoever closed it. */
  closed: Promise<string>
  /** Resolve with the next message that starts with `prefix`. */
  next(prefix: string, ms?: number): Promise<string>
}

/** Open a bare engine.io session on the server's Socket.IO path; closed when the test ends. */
export async function openEngineSession(t: Test, server: TestServer, transport: Transport, path = '/socket.io'): Promise<EngineSession> {
  const socket = new EngineSocket(server.url, { path: `${path}/`, transports: [transport], upgrade: false })
  t.teardown(() => socket.close())
  const messages: string[] = []
  const waiting: { prefix: string; resolve: (message: string) => void }[] = []
  socket.on('message', (data) => {
    const message = String(data)
    messages.push(message)
    const index = waiting.findIndex((entry) => message.startsWith(entry.prefix))
    if (index !== -1) waiting.splice(index, 1)[0]!.resolve(message)
  })
  // Not events.once: a transport error (a poll answered 400 once the server dropped the session)
  // comes as 'error' before 'close', and is one way of being closed.
  const closed = new Promise<string>((resolve) => socket.on('close', (reason) => resolve(String(reason))))
  await once(socket as never, 'open', { signal: AbortSignal.timeout(5000) })
  return {
    socket,
    messages,
    closed,
    next: (prefix, ms = 5000) =>
      new Promise<string>((resolve, reject) => {
        const seen = messages.find((message) => message.startsWith(prefix))
        if (seen !== undefined) return resolve(seen)
        const timer = setTimeout(() => reject(new Error(`no message starting with ${prefix}`)), ms)
        waiting.push({ prefix, resolve: (message) => (clearTimeout(timer), resolve(message)) })
      }),
  }
}

/** A polling handshake and nothing else: the client never comes back for its session. */
export async function pollingHandshake(server: TestServer, path = '/socket.io'): Promise<Response> {
  const response = await fetch(`${server.url}${path}/?EIO=4&transport=polling`)
  await response.arrayBuffer()
  return response
}
