// Reading server-sent events as a browser's EventSource does: messages split on blank lines,
// `data:` lines joined, `id:` kept (the last one seen is the last event id, as EventSource keeps
// it from one message to the next), comment lines counted.
import { request as httpRequest, type IncomingMessage } from 'node:http'

export interface SseMessageRead {
  /** The message's own `id:` line, if it has one. */
  id: string | undefined
  data: string
}

export interface SseRead {
  messages: SseMessageRead[]
  /** Comment lines (`: keep-alive`). */
  comments: string[]
  /** The last `id:` read so far: what a client sends as `Last-Event-ID` (EventSource's `lastEventId`). */
  lastEventId?: string
}

/** Parse complete SSE messages from `text`; returns what is left of an unfinished one. */
export function parseSse(text: string, into: SseRead): string {
  const blocks = text.replace(/\r\n?/g, '\n').split('\n\n')
  const rest = blocks.pop() ?? ''
  for (const block of blocks) {
    let id: string | undefined
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) into.comments.push(line.slice(1).trim())
      else if (line.startsWith('id:')) {
        id = line.slice(3).trim()
        into.lastEventId = id
      }
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
    }
    if (data.length > 0) into.messages.push({ id, data: data.join('\n') })
  }
  return rest
}

export interface SseResponse {
  status: number
  headers: IncomingMessage['headers']
  body: IncomingMessage
  /** Close the connection, as a client that goes away. */
  leave(): void
}

/**
 * A request over its own connection (`node:http`), so that leaving closes exactly that connection
 * (fetch's pool may open another one meanwhile, which would hold the server's close).
 */
export function sseRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<SseResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: response, leave: () => request.destroy() })
    })
    request.on('error', reject)
    request.end(init.body)
  })
}

/** Read SSE messages from a `sseRequest` until `stopAfter` holds for what one chunk brought; then leave. */
export async function readUntil(response: SseResponse, stopAfter: (read: SseRead) => boolean): Promise<SseRead> {
  const read: SseRead = { messages: [], comments: [] }
  let rest = ''
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    rest = parseSse(rest + chunk.toString('utf8'), read)
    if (stopAfter(read)) break
  }
  response.leave()
  return read
}

/** Read a fetch response's SSE messages until the stream ends. */
export async function readSse(response: Response): Promise<SseRead> {
  const read: SseRead = { messages: [], comments: [] }
  const decoder = new TextDecoder()
  let rest = ''
  for await (const chunk of response.body as ReadableStream<Uint8Array>) rest = parseSse(rest + decoder.decode(chunk, { stream: true }), read)
  return read
}

/**
 * What a client that resumes with its last event id keeps of what it read: the messages up to the
 * last one with `id:`. Those after it belong to an event that the resumed stream sends again whole.
 */
export function keptOnResume(messages: readonly SseMessageRead[]): SseMessageRead[] {
  const lastWithId = messages.findLastIndex((message) => message.id !== undefined)
  return messages.slice(0, lastWithId + 1)
}

/** The body of a response read whole, as bytes. */
export async function readBytes(response: SseResponse): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of response.body as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** The first `length` bytes of a response's body, then the connection closed: a stream cut there. */
export async function readCutAt(response: SseResponse, length: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let read = 0
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    read += chunk.length
    if (read >= length) break
  }
  response.leave()
  return Buffer.concat(chunks).subarray(0, length)
}

/** Where each message of an SSE body ends (just past its blank line), in bytes. */
export function messageEnds(body: Buffer): number[] {
  const ends: number[] = []
  let start = 0
  for (let at = body.indexOf('\n\n'); at >= 0; at = body.indexOf('\n\n', start)) {
    const block = body.subarray(start, at).toString('utf8')
    start = at + 2
    // Comment lines (keep-alive) make no message.
    if (block.split('\n').some((line) => line.startsWith('data:'))) ends.push(start)
  }
  return ends
}
