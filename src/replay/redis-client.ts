import { withTimeout } from '../with-timeout.ts'

/**
 * The one place that knows both Redis libraries. `redisReplayStore` takes an ioredis client
 * (`Redis` or `Cluster`, 5 or 6) or a node-redis one (`createClient` or `createCluster`, 5 or 6)
 * as the application made it, and talks to it only through `StoreRedis`.
 *
 * The client types below name the part of each library that is used, so that the package's types
 * need neither library installed.
 */

/** The part of an `ioredis` client (`Redis` or `Cluster`) that the store uses. */
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

/** Arguments of a node-redis `eval` or `evalSha`. */
export interface NodeRedisEvalOptions {
  keys: string[]
  arguments: string[]
}

/** The part of a node-redis client (`createClient()` or `createCluster()`, connected) that the store uses. */
export interface NodeRedisCommandClient {
  /** `true` once `connect()` resolved, until it is closed. */
  readonly isOpen: boolean
  evalSha(sha: string, options: NodeRedisEvalOptions): Promise<unknown>
  eval(script: string, options: NodeRedisEvalOptions): Promise<unknown>
  /** A new client with the same options, for the pub/sub subscriber. */
  duplicate(): NodeRedisSubscriberClient
}

/** The part of a node-redis client that the store subscribes with (its own duplicate). */
export interface NodeRedisSubscriberClient {
  connect(): Promise<unknown>
  subscribe(channel: string, listener: (message: string, channel: string) => unknown): Promise<unknown>
  /** `'ready'` and `'error'` of a standalone client; `'node-ready'` and `'node-error'` of a cluster's nodes. */
  on(event: 'error' | 'node-error', listener: (error: Error) => void): unknown
  on(event: 'ready' | 'node-ready', listener: () => void): unknown
  close(): Promise<unknown>
  destroy(): void
}

/** What the store hears from its subscription. */
export interface SubscriptionEvents {
  message(message: string): void
  /** The subscription's connection failed; reported once per outage (the library keeps retrying). */
  error(error: Error): void
  /** The subscription is back after a break: messages published meanwhile were lost. */
  reconnected(): void
}

/** What `redisReplayStore` needs of Redis, whichever library the client comes from. */
export interface StoreRedis {
  /** Why a command sent now would wait for a reconnection instead of running; `undefined` when it would run. */
  notReady(): string | undefined
  evalsha(sha: string, keys: string[], args: string[]): Promise<unknown>
  eval(source: string, keys: string[], args: string[]): Promise<unknown>
  /** Subscribe on a connection of the store's own; `close` ends it (dropping it after `timeoutMs`). */
  subscribe(channel: string, events: SubscriptionEvents): { close(timeoutMs: number): Promise<void> }
}

/** Statuses of an ioredis connection in which a command would wait in the offline queue. */
const IOREDIS_NOT_CONNECTED: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end'])

const isFunction = (value: unknown): boolean => typeof value === 'function'

/** The store's view of `client`, or `undefined` when it is neither an ioredis nor a node-redis client. */
export function storeRedis(client: unknown): StoreRedis | undefined {
  if (typeof client !== 'object' || client === null) return undefined
  const candidate = client as Record<string, unknown>
  if (!isFunction(candidate.duplicate) || !isFunction(candidate.eval)) return undefined
  if (isFunction(candidate.evalsha) && typeof candidate.status === 'string') return fromIoredis(client as RedisCommandClient)
  if (isFunction(candidate.evalSha) && typeof candidate.isOpen === 'boolean') return fromNodeRedis(client as NodeRedisCommandClient)
  return undefined
}

/** Reports the first error of each outage, and a reconnection after the first connection. */
function outageReporter(events: SubscriptionEvents): { error(error: Error): void; ready(): void } {
  let reported = false
  let connectedBefore = false
  return {
    error(error) {
      if (reported) return
      reported = true
      events.error(error)
    },
    ready() {
      reported = false
      if (connectedBefore) events.reconnected()
      connectedBefore = true
    },
  }
}

function fromIoredis(client: RedisCommandClient): StoreRedis {
  return {
    notReady: () => (IOREDIS_NOT_CONNECTED.has(client.status) ? client.status : undefined),
    evalsha: (sha, keys, args) => client.evalsha(sha, keys.length, ...keys, ...args),
    eval: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
    subscribe(channel, events) {
      const connection = client.duplicate()
      // ioredis retries with back-off and emits an error per failed attempt; it subscribes again
      // by itself after each reconnection (a `Cluster` on another node when its node is gone).
      const outage = outageReporter(events)
      connection.on('error', (error) => outage.error(error))
      connection.on('ready', () => outage.ready())
      connection.on('message', (from, message) => {
        if (from === channel) events.message(message)
      })
      connection.subscribe(channel).catch((error: Error) => events.error(error))
      return {
        async close(timeoutMs) {
          // QUIT waits for Redis; when Redis is unreachable, drop the connection instead.
          await withTimeout(connection.quit().catch(() => {}), timeoutMs, () => undefined)
          connection.disconnect()
        },
      }
    },
  }
}

function fromNodeRedis(client: NodeRedisCommandClient): StoreRedis {
  // A standalone client says whether it is ready; a cluster client (which has no `isReady` in
  // node-redis 5.0) only whether it is open, and a command for a node that is away fails or times out.
  const readiness = client as unknown as { isReady?: unknown }
  return {
    notReady() {
      if (!client.isOpen) return 'closed'
      if (readiness.isReady === false) return 'reconnecting'
      return undefined
    },
    evalsha: (sha, keys, args) => client.evalSha(sha, { keys, arguments: args }),
    eval: (source, keys, args) => client.eval(source, { keys, arguments: args }),
    subscribe(channel, events) {
      const connection = client.duplicate()
      const outage = outageReporter(events)
      // node-redis resubscribes by itself after a reconnection. A standalone client says 'ready'
      // on each connection; a cluster client says 'node-ready' for each node it connects to (its
      // pub/sub node among them), where one more read of the followed workflows is harmless.
      connection.on('error', (error: Error) => outage.error(error))
      connection.on('node-error', (error: Error) => outage.error(error))
      connection.on('ready', () => outage.ready())
      connection.on('node-ready', () => outage.ready())
      let closing = false
      const opened = connection.connect()
        .then(() => connection.subscribe(channel, (message) => events.message(String(message))))
        .catch((error: Error) => {
          if (!closing) events.error(error)
        })
      return {
        async close(timeoutMs) {
          closing = true
          await withTimeout(opened.then(() => connection.close()).catch(() => {}), timeoutMs, () => undefined)
          try {
            connection.destroy()
          } catch {
            // Already closed.
          }
        },
      }
    },
  }
}
