import type { ManagerOptions, SocketOptions } from 'socket.io-client'
import type { AgentEvent, DeltaKind, ErrorData } from '../schemas/index.ts'
import type { AgentEventsClientError } from './errors.ts'

/** Where `follow` keeps each workflow's position (`lastSeq`, `epoch`) so a page reload resumes it. */
export interface PositionStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export interface AgentEventsClientOptions {
  /** The plugin's `path` option. Default `'/socket.io'`. */
  path?: string
  /**
   * The JWT, or a function that returns it (or a promise of it). A function is called at every
   * connect, every reconnect and every refresh, so it can hand out a newer token each time.
   * Leave it out where the server reads the token from a cookie.
   */
  token?: string | (() => string | Promise<string>)
  /**
   * `'session'` (the default where `sessionStorage` exists), `'local'`, `false` (no resuming
   * across reloads), or any object with `getItem`, `setItem` and `removeItem`.
   */
  storage?: 'session' | 'local' | false | PositionStorage
  /**
   * Further `socket.io-client` options (`transports`, `reconnectionDelayMax`, `extraHeaders`…).
   * `path`, `auth` and `autoConnect` are the client's own and are not taken from here.
   */
  socket?: Partial<ManagerOptions & SocketOptions>
}

/** `'connecting'` while a connection is being made, `'online'` when connected, `'offline'` when not (or closed). */
export type ClientStatus = 'connecting' | 'online' | 'offline'

/** `'subscribing'` until the server has answered, `'live'` after; `'forbidden'` and `'closed'` are final. */
export type RunStatus = 'subscribing' | 'live' | 'forbidden' | 'closed'

export interface ResetInfo {
  /** `'truncated'`: events after `lastSeq` had left the server's buffer. `'epoch'`: the buffer started over. */
  reason: 'truncated' | 'epoch'
}

/** One streamed message, rebuilt from its `agent:delta` events and its final event. */
export interface StreamedMessage {
  kind: DeltaKind
  text: string
  /** The final `thought` or `result` arrived (the whole text), or an `error` ended the message. */
  done: boolean
  /** The `agent:error` data that ended the message, when it was aborted. */
  error?: ErrorData
}

export interface FollowOptions {
  /** Every event of the workflow exactly once, in `seq` order (`agent:delta` included). */
  onEvent?: (event: AgentEvent) => void
  /** The server no longer has the history after `lastSeq`: clear what you show; the buffer's events follow. */
  onReset?: (info: ResetInfo) => void
  /** The subscribe was refused for good (`FORBIDDEN`, `TOO_MANY_SUBSCRIPTIONS`, `INVALID_REQUEST`). Called once. */
  onError?: (error: AgentEventsClientError) => void
  /**
   * Each change of `run.status`: `'live'` once the server has answered (also when it had nothing
   * to hand out), `'subscribing'` after a disconnect, `'forbidden'` or `'closed'` at the end (after
   * `onError`, for a refusal). The same as `run.on('status', fn)`.
   */
  onStatus?: (status: RunStatus) => void
}

export interface RunEvents {
  status: (status: RunStatus) => void
}

export interface WorkflowRun extends AsyncIterable<AgentEvent> {
  readonly workflowId: string
  /** The `seq` of the last event handed out; `0` before any. */
  readonly lastSeq: number
  /** The epoch of the server's buffer from the last subscribe answer. */
  readonly epoch: string | undefined
  readonly status: RunStatus
  /** Streamed messages by `messageId`. */
  readonly messages: ReadonlyMap<string, StreamedMessage>
  /** Listen to each change of `status` (as `onStatus` does); returns the function that stops listening. */
  on<Name extends keyof RunEvents>(name: Name, listener: RunEvents[Name]): () => void
  /** Stop following: unsubscribe, end the async iterator, forget the stored position. */
  close(): void
}

export interface ClientEvents {
  status: (status: ClientStatus) => void
  /** A handshake or a token refresh was refused; the client keeps retrying. */
  error: (error: AgentEventsClientError) => void
}

export interface AgentEventsClient {
  readonly status: ClientStatus
  follow(workflowId: string, options?: FollowOptions): WorkflowRun
  /** Listen to `status` or `error`; returns the function that stops listening. */
  on<Name extends keyof ClientEvents>(name: Name, listener: ClientEvents[Name]): () => void
  /** Close every run and the connection. */
  close(): void
}
