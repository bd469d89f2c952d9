import type { FastifyBaseLogger } from 'fastify'
import type { Socket } from 'socket.io'
import { isAuthorized } from './authorization.ts'
import { type Ack, compileRequestCheck, errorAck, splitArguments } from './client-requests.ts'
import { CatchUp, type CatchUpContext, SubscriptionCancelled } from './delivery/catch-up.ts'
import { WorkflowStream } from './delivery/workflow-stream.ts'
import type { WorkflowStreams } from './delivery/workflow-streams.ts'
import type { ResolvedOptions } from './options.ts'
import { SubscribeRequest, UnsubscribeRequest } from './schemas/index.ts'
import { identityOf } from './socket-identity.ts'

const isSubscribeRequest = compileRequestCheck(SubscribeRequest)
const isUnsubscribeRequest = compileRequestCheck(UnsubscribeRequest)

/** What every socket's subscriptions share: created once per plugin instance. */
export interface SubscriptionContext {
  streams: WorkflowStreams
  catchUp: CatchUpContext
  options: Pick<ResolvedOptions, 'authorize' | 'authorizeTimeout' | 'maxSubscriptions'>
  log: FastifyBaseLogger
}

/** A subscription on its way: being authorized (no catch-up yet), then catching up. */
interface PendingSubscription {
  catchUp: CatchUp | undefined
}

/** What a socket's entry for one workflow holds: the subscription on its way, or, once live, the workflow's stream. */
type Entry = PendingSubscription | WorkflowStream

/**
 * The one owner of the workflows a socket follows: subscribe (limits, authorization, catch-up),
 * unsubscribe, and cleanup when the socket goes. An entry is reserved synchronously, before any
 * await, so that `maxSubscriptions` holds when many subscribes arrive at once, and so that an
 * unsubscribe (or a disconnect) during authorization or catch-up cancels it.
 */
export class SocketSubscriptions {
  readonly #entries = new Map<string, Entry>()

  constructor(
    private readonly socket: Socket,
    private readonly context: SubscriptionContext,
  ) {}

  async subscribe(payload: unknown, ack: Ack): Promise<void> {
    const { options, streams, log } = this.context
    if (!isSubscribeRequest(payload)) {
      return ack(errorAck('INVALID_REQUEST', 'Expected { workflowId, afterSeq?, epoch?, compact? } with a valid workflowId'))
    }
    const { workflowId, afterSeq, epoch, compact = false } = payload
    if (this.#entries.has(workflowId)) {
      return ack(errorAck('INVALID_REQUEST', 'Already subscribed to this workflow: unsubscribe first to replay it again'))
    }
    if (this.#entries.size >= options.maxSubscriptions) {
      return ack(errorAck('TOO_MANY_SUBSCRIPTIONS', `At most ${options.maxSubscriptions} workflows per connection`))
    }
    const pending: PendingSubscription = { catchUp: undefined }
    this.#entries.set(workflowId, pending)
    const socket = this.socket
    let stream: WorkflowStream | undefined
    try {
      const identity = identityOf(socket)
      const allowed =
        identity !== undefined &&
        (await isAuthorized(
          options.authorize,
          { user: identity.user, userId: identity.userId, workflowId, socket },
          options.authorizeTimeout,
          log,
        ))
      if (this.#entries.get(workflowId) !== pending || socket.disconnected) throw new SubscriptionCancelled()
      if (!allowed) {
        this.#entries.delete(workflowId)
        return ack(errorAck('FORBIDDEN', 'Not allowed to follow this workflow'))
      }
      stream = streams.acquire(workflowId)
      pending.catchUp = new CatchUp(socket, stream, this.context.catchUp)
      const outcome = await pending.catchUp.run({ afterSeq, epoch, compact })
      // The socket joined the room in the tick that `run` returned; no client message has been
      // handled since, so the entry is still this subscription's.
      this.#entries.set(workflowId, stream)
      ack({ ok: true, workflowId, ...outcome })
    } catch (error) {
      this.#end(workflowId, pending)
      // The catch-up has stopped listening to the stream now: let the stream go if nobody else follows it.
      if (stream !== undefined) streams.release(stream)
      if (error instanceof SubscriptionCancelled) {
        return ack(errorAck('INVALID_REQUEST', 'Unsubscribed before the subscription completed'))
      }
      log.error({ err: error, workflowId }, 'subscribe failed')
      ack(errorAck('INTERNAL', 'Could not subscribe, try again'))
    }
  }

  unsubscribe(payload: unknown, ack: Ack): void {
    if (!isUnsubscribeRequest(payload)) return ack(errorAck('INVALID_REQUEST', 'Expected { workflowId }'))
    const entry = this.#entries.get(payload.workflowId)
    if (entry !== undefined) this.#end(payload.workflowId, entry)
    ack({ ok: true })
  }

  /** The socket disconnected: Socket.IO has already taken it out of its rooms. */
  close(): void {
    for (const [workflowId, entry] of this.#entries) this.#end(workflowId, entry)
  }

  /** Undo one subscription, whatever its state; a second call for the same one does nothing. */
  #end(workflowId: string, entry: Entry): void {
    if (this.#entries.get(workflowId) !== entry) return
    this.#entries.delete(workflowId)
    if (entry instanceof WorkflowStream) {
      void this.socket.leave(entry.room)
      this.context.streams.release(entry)
      return
    }
    // A catch-up still running ends in `subscribe`, which then releases the stream.
    entry.catchUp?.cancel()
  }
}

export interface SubscriptionHandlers {
  /** Register `agent:subscribe` and `agent:unsubscribe` on an authenticated socket. */
  attach(socket: Socket): void
  /** End a disconnected socket's subscriptions. */
  detach(socket: Socket): void
}

/**
 * The listeners are created once and shared by every socket (Socket.IO calls them with the socket
 * as `this`), so that a socket costs only its `SocketSubscriptions`.
 */
export function createSubscriptionHandlers(context: SubscriptionContext): SubscriptionHandlers {
  const subscriptionsOf = new WeakMap<Socket, SocketSubscriptions>()

  function onSubscribe(this: Socket, ...args: unknown[]): void {
    const { payload, ack } = splitArguments(args)
    const subscriptions = subscriptionsOf.get(this)
    if (subscriptions === undefined) return ack(errorAck('INVALID_REQUEST', 'Not connected'))
    void subscriptions.subscribe(payload, ack)
  }

  function onUnsubscribe(this: Socket, ...args: unknown[]): void {
    const { payload, ack } = splitArguments(args)
    const subscriptions = subscriptionsOf.get(this)
    if (subscriptions === undefined) return ack(errorAck('INVALID_REQUEST', 'Not connected'))
    subscriptions.unsubscribe(payload, ack)
  }

  return {
    attach(socket) {
      subscriptionsOf.set(socket, new SocketSubscriptions(socket, context))
      socket.on('agent:subscribe', onSubscribe)
      socket.on('agent:unsubscribe', onUnsubscribe)
    },
    detach(socket) {
      subscriptionsOf.get(socket)?.close()
      subscriptionsOf.delete(socket)
    },
  }
}
