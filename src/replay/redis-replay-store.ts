import { randomBytes } from 'node:crypto'
import type { RecordedAgentEvent } from '../schemas/index.ts'
import { type Duration, durationToMs } from './duration.ts'
import { withTimeout } from '../with-timeout.ts'
import { newEventId } from './event-id.ts'
import { APPEND, READ, type RedisScript } from './redis-scripts.ts'
import {
  tellWatchers,
  type RecordedEventWatcher,
  type ReplayRange,
  type ReplayReadOptions,
  type ReplayStore,
  type UnrecordedAgentEvent,
} from './replay-store.ts'

/**
 * The part of an `ioredis` client (`Redis` or `Cluster`) that the store uses. Declared here, so
 * that the package's types do not require `ioredis` where it is not installed.
 */
export interface RedisCommandClient {
  /** ioredis connection status: `'ready'` when commands run now. */
  readonly status: string
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  /** A new connection with the same options, for the pub/sub subscriber. */
  duplicate(): RedisSubscriberClient
}

/** The part of an `ioredis` connection in subscriber mode that the store uses. */
export interface RedisSubscriberClient {
  subscribe(channel: string): Promise<unknown>
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  on(event: 'ready', listener: () => void): unknown
  quit(): Promise<unknown>
  disconnect(): void
}

export interface RedisReplayStoreOptions {
  /** An `ioredis` client. The store never closes it; it closes only the subscriber it duplicates from it. */
  client: RedisCommandClient
  /** Prefix of every key and of the pub/sub channel. Default `'agent-events:'`. */
  keyPrefix?: string
  /** Events kept per workflow; the oldest go first. 0 keeps none (sequence numbers only). Default 1000. */
  maxEvents?: number
  /** How long a workflow is kept after its last event. Default `'1 hour'`. */
  ttl?: Duration
  /** A Redis call slower than this fails (ms), so that an emitter settles while Redis is unreachable. Default 2000. */
  timeout?: number
}

export const REDIS_STORE_DEFAULTS = Object.freeze({
  keyPrefix: 'agent-events:',
  maxEvents: 1000,
  ttl: '1 hour',
  timeout: 2000,
})

/** Statuses of an ioredis connection in which a command would wait in the offline queue. */
const NOT_CONNECTED: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end'])

/**
 * A replay store in Redis, shared by every node that uses the same Redis and `keyPrefix`.
 *
 * `seq` is assigned by a Lua script that also trims the buffer, refreshes the TTL and publishes the
 * event on the store's channel, so every node hears each workflow's events in `seq` order. An
 * epoch is kept beside each buffer: a flushed or restarted Redis starts a new one.
 *
 * @example
 * import { Redis } from 'ioredis'
 * const client = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1, commandTimeout: 2000 })
 * await app.register(agentEvents, { replay: { store: redisReplayStore({ client }) } })
 */
export function redisReplayStore(options: RedisReplayStoreOptions): ReplayStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('redisReplayStore: options { client } are required')
  const { client } = options
  if (
    typeof client !== 'object' || client === null ||
    typeof client.evalsha !== 'function' || typeof client.eval !== 'function' || typeof client.duplicate !== 'function'
  ) {
    throw new TypeError('redisReplayStore: client must be an ioredis client (new Redis(...))')
  }
  const keyPrefix = options.keyPrefix ?? REDIS_STORE_DEFAULTS.keyPrefix
  const maxEvents = options.maxEvents ?? REDIS_STORE_DEFAULTS.maxEvents
  const ttlMs = durationToMs(options.ttl ?? REDIS_STORE_DEFAULTS.ttl)
  const timeoutMs = options.timeout ?? REDIS_STORE_DEFAULTS.timeout
  if (typeof keyPrefix !== 'string') throw new RangeError('redisReplayStore: keyPrefix must be a string')
  if (!Number.isSafeInteger(maxEvents) || maxEvents < 0) throw new RangeError('redisReplayStore: maxEvents must be an integer >= 0')
  if (ttlMs === undefined) throw new RangeError('redisReplayStore: ttl must be a positive duration')
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('redisReplayStore: timeout must be a positive integer (ms)')

  const ttl = Math.ceil(ttlMs)
  const channel = `${keyPrefix}recorded`
  // Names this store instance in what it publishes, so it skips its own events on the way back.
  const origin = randomBytes(9).toString('base64url')
  const watchers = new Set<RecordedEventWatcher>()
  let subscriber: RedisSubscriberClient | undefined
  let closed = false

  const keysOf = (workflowId: string): [string, string] => [
    `${keyPrefix}{${workflowId}}:meta`,
    `${keyPrefix}{${workflowId}}:events`,
  ]
  const newEpoch = (): string => randomBytes(9).toString('base64url')

  async function run(script: RedisScript, keys: [string, string], args: (string | number)[]): Promise<unknown> {
    if (closed) throw new Error('redisReplayStore is closed')
    // While ioredis reconnects, a command would wait in its offline queue and could run long after
    // the emitter gave up on it: fail now instead.
    if (NOT_CONNECTED.has(client.status)) throw new Error(`redisReplayStore: Redis is not connected (${client.status})`)
    const call = async (): Promise<unknown> => {
      try {
        return await client.evalsha(script.sha, 2, ...keys, ...args)
      } catch (error) {
        // A restarted Redis has lost its script cache: EVAL sends the source and caches it again.
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
        return await client.eval(script.source, 2, ...keys, ...args)
      }
    }
    return await withTimeout(call(), timeoutMs, () => {
      throw new Error(`redisReplayStore: Redis did not answer within ${timeoutMs} ms`)
    })
  }

  function onMessage(_channel: string, message: string): void {
    if (message.startsWith(`${origin}\n`)) return
    const originEnd = message.indexOf('\n')
    const epochEnd = message.indexOf('\n', originEnd + 1)
    if (originEnd === -1 || epochEnd === -1) return
    let event: RecordedAgentEvent
    try {
      event = JSON.parse(message.slice(epochEnd + 1)) as RecordedAgentEvent
    } catch (error) {
      for (const watcher of watchers) watcher.onError(error as Error)
      return
    }
    tellWatchers(watchers, event, message.slice(originEnd + 1, epochEnd))
  }

  function startSubscriber(): void {
    const connection = client.duplicate()
    subscriber = connection
    // ioredis retries with back-off and emits an error per failed attempt: report the first of each outage.
    let reported = false
    let connectedBefore = false
    connection.on('error', (error) => {
      if (reported) return
      reported = true
      for (const watcher of watchers) watcher.onError(error)
    })
    connection.on('ready', () => {
      reported = false
      // Messages published while this connection was down are lost: the watchers catch up from the lists.
      if (connectedBefore) for (const watcher of watchers) watcher.onReconnect?.()
      connectedBefore = true
    })
    connection.on('message', onMessage)
    // ioredis subscribes again by itself after each reconnection.
    connection.subscribe(channel).catch((error: Error) => {
      for (const watcher of watchers) watcher.onError(error)
    })
  }

  async function stopSubscriber(): Promise<void> {
    const connection = subscriber
    subscriber = undefined
    if (connection === undefined) return
    // QUIT waits for Redis; when Redis is unreachable, drop the connection instead.
    await withTimeout(connection.quit().catch(() => {}), timeoutMs, () => undefined)
    connection.disconnect()
  }

  return {
    async append(event: UnrecordedAgentEvent): Promise<RecordedAgentEvent> {
      const id = newEventId()
      const json = JSON.stringify(event)
      const reply = (await run(APPEND, keysOf(event.workflowId), [
        newEpoch(), ttl, maxEvents, json.slice(0, -1), JSON.stringify(id), channel, origin,
      ])) as [number, string]
      const recorded = { ...event, seq: Number(reply[0]), id } as RecordedAgentEvent
      tellWatchers(watchers, recorded, String(reply[1]))
      return recorded
    },

    async read(workflowId: string, { afterSeq, limit }: ReplayReadOptions): Promise<ReplayRange> {
      const reply = (await run(READ, keysOf(workflowId), [newEpoch(), ttl, afterSeq, limit])) as [number, string, number, string[]]
      const lastSeq = Number(reply[0])
      const firstHeld = Number(reply[2])
      return {
        events: reply[3].map((json) => JSON.parse(json) as RecordedAgentEvent),
        lastSeq,
        epoch: String(reply[1]),
        truncated: afterSeq < lastSeq && afterSeq < firstHeld - 1,
      }
    },

    watch(watcher: RecordedEventWatcher): () => Promise<void> {
      if (closed) throw new Error('redisReplayStore is closed')
      watchers.add(watcher)
      if (subscriber === undefined) startSubscriber()
      return async () => {
        watchers.delete(watcher)
        if (watchers.size === 0) await stopSubscriber()
      }
    },

    async close(): Promise<void> {
      closed = true
      watchers.clear()
      await stopSubscriber()
    },
  }
}
