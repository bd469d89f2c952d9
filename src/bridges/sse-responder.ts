import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { isAuthorized } from '../authorization.ts'
import type { EventReaderStart, WorkflowEventReader } from '../delivery/event-reader.ts'
import { isTerminalEvent } from '../delivery/terminal-event.ts'
import type { EventsOptions } from '../emitters.ts'
import { ForbiddenError, HistoryResetError, invalidEvent, UnauthorizedError } from '../errors.ts'
import { assertOptionalBoolean, assertOptionalSeq, assertWorkflowId } from '../event-validation.ts'
import { userIdOf } from '../token-verification.ts'
import type { AuthorizeHook } from '../options.ts'
import { type Duration, durationToMs } from '../replay/duration.ts'
import type { RecordedAgentEvent } from '../schemas/index.ts'
import type { SseInterruption, SseMessage, SseProtocol } from './sse-protocol.ts'

/** A comment line sent this often keeps proxies and load balancers from closing a quiet stream. */
export const SSE_KEEP_ALIVE_MS = 15_000
const KEEP_ALIVE: SseMessage = ': keep-alive\n\n'

/** What every agent UI route takes, besides its protocol's own options. */
export interface SseStreamOptions {
  /**
   * Go on after this `seq`. A request's `Last-Event-ID` header takes precedence (it is where the
   * client really is). Default: the start of the workflow's buffer.
   */
  afterSeq?: number
  /**
   * A resume route (the AI SDK's `GET …/stream`): answer 204 No Content when the workflow has
   * nothing recorded, rather than wait for its first event. Default false.
   */
  resume?: boolean
  /** How often a comment line goes out while nothing else does. Default 15 seconds. */
  keepAlive?: Duration
}

/** What the plugin gives every agent UI route. */
export interface SseBridgeContext {
  openReader(workflowId: string, options?: EventsOptions): WorkflowEventReader
  authorize: AuthorizeHook | undefined
  authorizeTimeout: number
  userIdClaim: string
  log: FastifyBaseLogger
}

/** One agent UI protocol, as the responder drives it. */
export interface SseBridge {
  /** Extra response headers (the AI SDK's `x-vercel-ai-ui-message-stream: v1`). */
  headers?: OutgoingHttpHeaders
  /** A new state machine for one response: may load the protocol's package (and throw when it is missing). */
  protocol(): SseProtocol | Promise<SseProtocol>
}

const SSE_HEADERS: OutgoingHttpHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // nginx buffers responses unless told not to: events would reach the client in lumps.
  'x-accel-buffering': 'no',
}

/**
 * Answer a request with a workflow's events in an agent UI protocol, over server-sent events.
 *
 * Before any byte of the stream: `request.user` must be set (401), the plugin's `authorize` must
 * allow (403), the options and `Last-Event-ID` must be well formed (400), a resume point must
 * belong to the workflow's current buffer (409), and a `resume: true` request for a workflow with
 * nothing recorded gets 204. These errors are thrown, so the route's error handling answers them.
 * Then the reply is hijacked and the stream written on `reply.raw`, at the pace the client reads
 * it. Resolves when the stream has ended: after the terminal event, when the client leaves, or
 * when the server closes.
 */
export async function respondWithSse(
  reply: FastifyReply,
  workflowId: string,
  options: SseStreamOptions,
  bridge: SseBridge,
  context: SseBridgeContext,
): Promise<FastifyReply> {
  assertWorkflowId(workflowId)
  const { afterSeq, resume = false, keepAliveMs } = checkStreamOptions(options)
  const request = reply.request
  const { user, userId } = authenticatedUser(request, context.userIdClaim)
  const resumedAfter = lastEventIdOf(request) ?? afterSeq
  const allowed = await isAuthorized(context.authorize, { user, userId, workflowId, request }, context.authorizeTimeout, context.log)
  if (!allowed) throw new ForbiddenError()
  const protocol = await bridge.protocol()

  const leaving = new AbortController()
  // A resumed response rebuilds the protocol's state from the start of the buffer (output
  // discarded up to `resumedAfter`), so that it goes on exactly as the uncut one would have.
  const reader = context.openReader(workflowId, { signal: leaving.signal })
  let start: EventReaderStart
  try {
    start = await reader.open()
  } catch (error) {
    reader.close()
    throw error
  }
  if (resumedAfter !== undefined && resumedAfter > start.lastSeq) {
    reader.close()
    throw new HistoryResetError(workflowId, resumedAfter)
  }
  if (resume && start.lastSeq === 0) {
    reader.close()
    return reply.code(204).send()
  }
  if (reply.raw.destroyed || request.raw.socket.destroyed) {
    reader.close()
    return reply
  }

  reply.hijack()
  const out = new SseWriter(reply.raw, () => leaving.abort())
  // Headers set on the reply by hooks before (CORS…) go out too: a hijacked reply skips onSend.
  out.start({ ...(reply.getHeaders() as OutgoingHttpHeaders), ...SSE_HEADERS, ...bridge.headers })
  const keepAlive = setInterval(() => out.keepAlive(), keepAliveMs)
  try {
    await out.write(protocol.opening({ workflowId, resumedAfter }).join(''))
    let terminal: RecordedAgentEvent | undefined
    for await (const event of reader) {
      const messages = protocol.next(event)
      if (isTerminalEvent(event)) terminal = event
      if (resumedAfter !== undefined && event.seq <= resumedAfter) continue
      if (messages.length > 0) await out.write(withIdOnLast(event.seq, messages))
    }
    if (terminal !== undefined) await out.write(protocol.closing(terminal).join(''))
  } catch (error) {
    const reason: SseInterruption = error instanceof HistoryResetError
      ? { code: error.code, message: error.message }
      : { code: 'STREAM_FAILED', message: 'The workflow\'s events could not be read' }
    if (!(error instanceof HistoryResetError)) context.log.error({ err: error, workflowId }, 'agent UI stream failed')
    await out.write(protocol.interrupted(reason).join('')).catch(() => undefined)
  } finally {
    clearInterval(keepAlive)
    reader.close()
    out.end()
  }
  return reply
}

/**
 * The messages of one recorded event as one write, `id: <seq>` on the last one only. A client's
 * last event id is set when a message carrying `id:` is dispatched: were it on the first message,
 * a client cut after that one would resume after `seq` and never get the rest of the event. With
 * it on the last, such a client resumes after the event before and gets this one whole again.
 */
function withIdOnLast(seq: number, messages: readonly SseMessage[]): string {
  const last = messages.length - 1
  return messages.map((message, i) => (i === last ? `id: ${seq}\n${message}` : message)).join('')
}

function checkStreamOptions(options: SseStreamOptions): { afterSeq: number | undefined; resume: boolean; keepAliveMs: number } {
  if (typeof options !== 'object' || options === null) {
    throw invalidEvent([{ field: 'options', message: 'must be an object' }])
  }
  const { afterSeq, resume, keepAlive } = options
  assertOptionalSeq('afterSeq', afterSeq)
  assertOptionalBoolean('resume', resume)
  const keepAliveMs = keepAlive === undefined ? SSE_KEEP_ALIVE_MS : durationToMs(keepAlive)
  if (keepAliveMs === undefined) {
    throw invalidEvent([{ field: 'keepAlive', message: 'must be a positive duration (milliseconds, or text such as \'15 seconds\')' }])
  }
  return { afterSeq, resume: resume ?? false, keepAliveMs }
}

/** `request.user` as the route's authentication left it, and its user id claim. */
function authenticatedUser(request: FastifyRequest, userIdClaim: string): { user: NonNullable<FastifyRequest['user']>; userId: string } {
  const user = (request as { user?: FastifyRequest['user'] }).user
  if (user === undefined || user === null) {
    throw new UnauthorizedError('request.user is not set: authenticate the route (onRequest: [app.authenticate], or await request.jwtVerify())')
  }
  const userId = typeof user === 'object' ? userIdOf(user as Record<string, unknown>, userIdClaim) : undefined
  if (userId === undefined) {
    throw new UnauthorizedError(`request.user has no "${userIdClaim}" (auth.userIdClaim)`)
  }
  return { user, userId }
}

/** The `seq` in a `Last-Event-ID` header, if any. */
function lastEventIdOf(request: FastifyRequest): number | undefined {
  const header = request.headers['last-event-id']
  if (header === undefined) return undefined
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined || value.trim() === '') return undefined
  const seq = Number(value.trim())
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(seq)) {
    throw invalidEvent([{ field: 'Last-Event-ID', message: 'must be the seq of an event: an integer >= 0' }])
  }
  return seq
}

/**
 * The hijacked response: writes that wait while the socket's buffer is full (`write()` returned
 * false) until it drains, so that a slow client never makes the server hold more than one write.
 */
class SseWriter {
  #draining: Promise<void> | undefined
  #closed = false

  constructor(
    private readonly raw: ServerResponse,
    onClose: () => void,
  ) {
    raw.once('close', () => {
      this.#closed = true
      onClose()
    })
  }

  start(headers: OutgoingHttpHeaders): void {
    this.raw.writeHead(200, headers)
    // Let the client see the response now, even when nothing is written before the first event.
    this.raw.flushHeaders()
  }

  async write(text: string): Promise<void> {
    if (text.length === 0 || this.#closed || this.raw.writableEnded) return
    if (this.#draining !== undefined) await this.#draining
    if (this.#closed) return
    if (!this.raw.write(text)) {
      this.#draining ??= new Promise<void>((resolve) => {
        const done = (): void => {
          this.raw.off('drain', done)
          this.raw.off('close', done)
          this.#draining = undefined
          resolve()
        }
        this.raw.on('drain', done)
        this.raw.on('close', done)
      })
      await this.#draining
    }
  }

  /** A comment line, unless the client is behind already (then the stream is anything but quiet). */
  keepAlive(): void {
    if (this.#draining === undefined && !this.#closed && !this.raw.writableEnded) this.raw.write(KEEP_ALIVE)
  }

  end(): void {
    if (!this.raw.writableEnded) this.raw.end()
  }
}
