import { randomBytes } from 'node:crypto'
import type { RecordedAgentEvent } from '../schemas/index.ts'
import { type Duration, durationToMs } from './duration.ts'
import { withTimeout } from '../with-timeout.ts'
import { newEventId } from './event-id.ts'
import { APPEND, READ, type RedisScript } from './redis-scripts.ts'
import {
  type NodeRedisCommandClient,
  type RedisCommandClient,
  type StoreRedis,
  storeRedis,
} from './redis-client.ts'
import {
  tellWatchers,
  type RecordedEventWatcher,
  type ReplayRange,
  type ReplayReadOptions,
  type ReplayStore,
  type UnrecordedAgentEvent,
} from './replay-store.ts'

export interface RedisReplayStoreOptions {
  /**
   * An ioredis 5 or 6 client (`Redis` or `Cluster`) or a connected node-redis 5 or 6 client
   * (`createClient()` or `createCluster()`). The store never closes it; it closes only the
   * subscriber it duplicates from it.
   */
  client: RedisCommandClient | NodeRedisCommandClient
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
  const adapted = storeRedis(options.client)
  if (adapted === undefined) {
    throw new TypeError('redisReplayStore: client must be an ioredis client (new Redis(...), new Cluster(...)) or a node-redis one (createClient(), createCluster())')
  }
  const redis: StoreRedis = adapted
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
  let subscriber: ReturnType<StoreRedis['subscribe']> | undefined
  let closed = false

  const keysOf = (workflowId: string): [string, string] => [
    `${keyPrefix}{${workflowId}}:meta`,
    `${keyPrefix}{${workflowId}}:events`,
  ]
  const newEpoch = (): string => randomBytes(9).toString('base64url')

  async function run(script: RedisScript, keys: [string, string], values: (string | number)[]): Promise<unknown[]> {
    if (closed) throw new Error('redisReplayStore is closed')
    // While the client reconnects, a command would wait in its offline queue and could run long
    // after the emitter gave up on it: fail now instead.
    const notReady = redis.notReady()
    if (notReady !== undefined) throw new Error(`redisReplayStore: Redis is not connected (${notReady})`)
    const args = values.map(String)
    const call = async (): Promise<unknown[]> => {
      let reply: unknown
      try {
        reply = await redis.evalsha(script.sha, keys, args)
      } catch (error) {
        // A restarted Redis (or cluster master) has lost its script cache: EVAL sends the source and caches it again.
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
        reply = await redis.eval(script.source, keys, args)
      }
      if (!Array.isArray(reply)) throw new Error(`redisReplayStore: unexpected reply from Redis: ${typeof reply}`)
      return reply as unknown[]
    }
    return await withTimeout(call(), timeoutMs, () => {
      throw new Error(`redisReplayStore: Redis did not answer within ${timeoutMs} ms`)
    })
  }

  function onMessage(message: string): void {
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
    subscriber = redis.subscribe(channel, {
      message: onMessage,
      error(error) {
        for (const watcher of watchers) watcher.onError(error)
      },
      reconnected() {
        // Messages published while the subscription was down are lost: the watchers catch up from the lists.
        for (const watcher of watchers) watcher.onReconnect?.()
      },
    })
  }

  async function stopSubscriber(): Promise<void> {
    const connection = subscriber
    subscriber = undefined
    await connection?.close(timeoutMs)
  }

  return {
    async append(event: UnrecordedAgentEvent): Promise<RecordedAgentEvent> {
      const id = newEventId()
      const json = JSON.stringify(event)
      const reply = (await run(APPEND, keysOf(event.workflowId), [
        newEpoch(), ttl, maxEvents, json.slice(0, -1), JSON.stringify(id), channel, origin,
      ]))
      // Replies are read the same under RESP2 and RESP3, whichever library and type mapping: Lua
      // integers may come as numbers or bigints, strings as strings or Buffers.
      const recorded = { ...event, seq: Number(reply[0]), id } as RecordedAgentEvent
      tellWatchers(watchers, recorded, String(reply[1]))
      return recorded
    },

    async read(workflowId: string, { afterSeq, limit }: ReplayReadOptions): Promise<ReplayRange> {
      const reply = await run(READ, keysOf(workflowId), [newEpoch(), ttl, afterSeq, limit])
      const lastSeq = Number(reply[0])
      const firstHeld = Number(reply[2])
      const held = Array.isArray(reply[3]) ? (reply[3] as unknown[]) : []
      return {
        events: held.map((json) => JSON.parse(String(json)) as RecordedAgentEvent),
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
