// The writer of the streaming scenario, in the server process (a message stream is a server API):
// `streams` messages written at once, each `perSecond` chunks a second, on one schedule that does
// not drift. The streams' writes are interleaved evenly (stream s writes chunk k at
// `k / perSecond + s / (perSecond × streams)` seconds), as tokens of many runs arrive spread over
// time. A writer that falls behind catches up with the writes that are due, one round over the
// streams per turn of the event loop (as tokens that arrive from many model calls would), so that
// delivery and Socket.IO's heartbeats still get their turns; when the process cannot keep the rate
// the run lasts longer, and `writesPerSec` says what it achieved.
import { chunkText, now } from './wire.ts'

/** One message being written: a plugin stream, thoughts, or raw Socket.IO emits. */
export interface MessageSink {
  write(text: string): void
  /** Record the final event with the whole text. */
  end(): Promise<unknown> | undefined
}

export interface WriteArgs {
  streams: number
  /** Chunks per message. */
  chunks: number
  /** Chunks per second per stream. */
  perSecond: number
}

export interface Written {
  writes: number
  startedAt: number
  lastWriteAt: number
  /** Writes per second from the first write to the last one; `perSecond × streams` when the writer keeps up. */
  writesPerSec: number
  /** Most a tick of the writer ran behind its schedule, ms. */
  maxLagMs: number
  /** When each chunk was written: chunk k of stream s at `s × chunks + k`. */
  writeTimes: Float64Array
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

export async function writeStreams({ streams, chunks, perSecond }: WriteArgs, open: (stream: number) => MessageSink): Promise<Written> {
  const sinks = Array.from({ length: streams }, (_, stream) => open(stream))
  const total = streams * chunks
  const spacingMs = 1000 / (perSecond * streams)
  const writeTimes = new Float64Array(total)
  const ends: (Promise<unknown> | undefined)[] = []
  let maxLagMs = 0
  let lastWriteAt = 0
  const startedAt = now()
  for (let next = 0; next < total; ) {
    const tickAt = now()
    const due = Math.min(total, Math.floor((tickAt - startedAt) / spacingMs) + 1, next + streams)
    if (next < due) maxLagMs = Math.max(maxLagMs, tickAt - (startedAt + next * spacingMs))
    for (; next < due; next++) {
      const stream = next % streams
      const index = (next - stream) / streams
      const sink = sinks[stream] as MessageSink
      lastWriteAt = now()
      writeTimes[stream * chunks + index] = lastWriteAt
      sink.write(chunkText(stream, index))
      if (index === chunks - 1) ends.push(sink.end())
    }
    if (next >= total) break
    const wait = startedAt + next * spacingMs - now()
    await (wait > 0 ? tick(Math.max(1, wait)) : turn())
  }
  await Promise.all(ends)
  return {
    writes: total,
    startedAt,
    lastWriteAt,
    writesPerSec: total / ((lastWriteAt - startedAt) / 1000),
    maxLagMs,
    writeTimes,
  }
}
