// What both servers send and both clients read: the same payloads, the same tokens, the same clock.
import { createHmac } from 'node:crypto'

export const SECRET = 'bench-secret-that-is-long-enough-for-hs256'
export const CONTENT_BYTES = 200

/**
 * Milliseconds on the system's monotonic clock, with microsecond resolution, comparable across
 * processes on one machine (emit time in the server, receive time in the client).
 * `performance.timeOrigin` is not: each process fixes it at start-up, and on a busy machine two
 * processes can disagree by several milliseconds.
 */
export const now = (): number => Number(process.hrtime.bigint() / 1000n) / 1000

const paddings = new Map<number, string>()

/**
 * Thought content of `bytes` ASCII characters (default ~200) that starts with the time it was
 * emitted, for emit→receive latency.
 */
export function timedContent(bytes = CONTENT_BYTES): string {
  let padding = paddings.get(bytes)
  if (padding === undefined) paddings.set(bytes, (padding = 'x'.repeat(bytes)))
  const stamp = now().toFixed(3)
  return `${stamp}|${padding.slice(stamp.length + 1)}`
}

export function emittedAt(content: string): number {
  return Number(content.slice(0, content.indexOf('|')))
}

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url')
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))

/** A fresh HS256 token for `sub`, valid for an hour, as the app's login would issue it. */
export function signToken(sub: string): string {
  const iat = Math.floor(Date.now() / 1000)
  const body = `${HEADER}.${base64url(JSON.stringify({ sub, iat, exp: iat + 3600 }))}`
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`
}

export interface Thought {
  workflowId: string
  seq: number
  data: { content: string }
}

/** The workflow client `index` follows: one for all clients, or one each. */
export const workflowOf = (workflows: 'shared' | 'own', index: number): string =>
  workflows === 'shared' ? 'wf-shared' : `wf-${index}`

/** Characters per streamed chunk: about one token. */
export const CHUNK_CHARS = 4
const CHUNK_VALUES = 36 ** CHUNK_CHARS

/**
 * Chunk `index` of the message that stream `stream` writes: 4 base-36 characters, different from
 * its neighbours and from the same chunk of other streams, so that a lost, repeated, reordered or
 * misrouted chunk changes the rebuilt text.
 */
export function chunkText(stream: number, index: number): string {
  return ((stream * 1_000_003 + index) % CHUNK_VALUES).toString(36).padStart(CHUNK_CHARS, '0')
}

/** The whole text of stream `stream`'s message of `chunks` chunks. */
export function messageText(stream: number, chunks: number): string {
  let text = ''
  for (let index = 0; index < chunks; index++) text += chunkText(stream, index)
  return text
}

/** What the writer and the clients pass around as one number per chunk (write or receive times). */
export const encodeTimes = (times: Float64Array): string => Buffer.from(times.buffer, times.byteOffset, times.byteLength).toString('base64')

export function decodeTimes(encoded: string): Float64Array {
  const bytes = Buffer.from(encoded, 'base64')
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

/** A streamed message's delta, as the plugin sends it (`agent:delta`) and raw Socket.IO copies it. */
export interface Delta {
  seq: number
  data: { messageId: string; text: string }
}

/** The event that ends a message: `agent:result` with the whole text. */
export interface Result {
  seq: number
  data: { content: string; messageId?: string }
}
