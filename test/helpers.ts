import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fastifyJwt, { type FastifyJWTOptions } from '@fastify/jwt'
import { io as ioClient, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from 'socket.io-client'
import type { Test } from 'tap'
import agentEvents, { type AgentEventsOptions } from '../src/index.ts'

export const SECRET = 'test-secret-that-is-long-enough-for-hs256'

export interface TestServer {
  app: FastifyInstance
  url: string
  /** A token for `sub`, valid for an hour unless `claims` says otherwise. */
  token(sub: string, claims?: Record<string, unknown>): string
}

export interface StartOptions {
  jwt?: Partial<FastifyJWTOptions>
  logger?: unknown
  /** Further Fastify server options (`trustProxy`…). */
  fastify?: FastifyServerOptions
  /** Runs after @fastify/jwt and before the plugin. */
  before?: (app: FastifyInstance) => Promise<void> | void
}

/** A real Fastify server on 127.0.0.1, port 0, closed when the test ends. */
export async function startServer(t: Test, options: AgentEventsOptions = {}, start: StartOptions = {}): Promise<TestServer> {
  const app = Fastify({ ...start.fastify, logger: (start.logger ?? false) as boolean })
  t.teardown(() => app.close())
  await app.register(fastifyJwt, { secret: SECRET, ...start.jwt } as FastifyJWTOptions)
  await start.before?.(app)
  await app.register(agentEvents, options)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    token: (sub, claims = {}) => app.jwt.sign({ sub, ...claims }, { expiresIn: '1h' }),
  }
}

export type ClientOptions = Partial<ManagerOptions & SocketOptions>

/** A real socket.io-client, closed when the test ends; it does not connect until told to. */
export function client(t: Test, server: TestServer, options: ClientOptions = {}): ClientSocket {
  const socket = ioClient(server.url, {
    autoConnect: false,
    reconnection: false,
    transports: ['websocket'],
    forceNew: true,
    ...options,
  })
  t.teardown(() => {
    socket.disconnect()
  })
  return socket
}

/** Connect as `userId` and resolve once connected. */
export async function connectAs(t: Test, server: TestServer, userId: string, options: ClientOptions = {}): Promise<ClientSocket> {
  const socket = client(t, server, { auth: { token: server.token(userId) }, ...options })
  socket.connect()
  await waitFor(socket, 'connect')
  return socket
}

/** Resolve with the first payload of `event`; reject on connect_error or after `ms`. */
export async function waitFor<T = unknown>(socket: ClientSocket, event: string, ms = 5000): Promise<T> {
  const [value] = (await once(socket as never, event, { signal: AbortSignal.timeout(ms) })) as [T]
  return value
}

/** Resolve with the `connect_error` of a handshake that must be refused. */
export async function refusal(socket: ClientSocket): Promise<Error & { data?: Record<string, unknown> }> {
  const connected = new Promise<never>((_, reject) => socket.once('connect', () => reject(new Error('connected'))))
  const refused = waitFor<Error & { data?: Record<string, unknown> }>(socket, 'connect_error')
  socket.connect()
  return Promise.race([refused, connected])
}

/** Emit a request and resolve with its acknowledgement. */
export function request<T = Record<string, unknown>>(socket: ClientSocket, event: string, payload: unknown): Promise<T> {
  return socket.timeout(5000).emitWithAck(event, payload) as Promise<T>
}

/** Collect every payload of the given events, in arrival order. */
export function collect<T = Record<string, unknown>>(socket: ClientSocket, events: string[]): T[] {
  const received: T[] = []
  for (const event of events) socket.on(event, (payload: T) => received.push(payload))
  return received
}

export const AGENT_EVENTS = ['agent:thought', 'agent:tool_call', 'agent:result', 'agent:error']

export { until } from './until.ts'

/** A successful `agent:subscribe` acknowledgement. */
export interface SubscribeOk {
  ok: true
  workflowId: string
  epoch: string
  lastSeq: number
  replayed: number
  truncated: boolean
}

/** The integers from `from` to `to`, both included. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** The `seq` of each event, in order. */
export const seqs = (events: readonly { seq?: unknown }[]): number[] => events.map((event) => event.seq as number)

export interface LogLine {
  msg?: string
  time?: number
  [key: string]: unknown
}

/** A pino destination that keeps every line and tells who waits for a message. */
export class LogCapture {
  readonly lines: LogLine[] = []
  #waiters: { msg: string; resolve: (line: LogLine) => void }[] = []
  readonly stream = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      for (const text of chunk.toString().split('\n')) {
        if (text.length === 0) continue
        const line = JSON.parse(text) as LogLine
        this.lines.push(line)
        this.#waiters = this.#waiters.filter((waiter) => (waiter.msg === line.msg ? void waiter.resolve(line) : true))
      }
      done()
    },
  })

  next(msg: string): Promise<LogLine> {
    return new Promise((resolve) => this.#waiters.push({ msg, resolve }))
  }
}
