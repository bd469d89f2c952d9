import type { FastifyBaseLogger } from 'fastify'
import type { Socket } from 'socket.io'
import { isAuthorized } from './authorization.ts'
import { type Ack, compileRequestCheck, errorAck, splitArguments } from './client-requests.ts'
import { CatchUp, type CatchUpContext, SubscriptionCancelled } from './delivery/catch-up.ts'
import type { WorkflowStream } from './delivery/workflow-stream.ts'
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

/** One workflow that a socket follows: authorizing (no stream yet), catching up, or live. */
class Subscription {
  stream: WorkflowStream | undefined
  catchUp: CatchUp | undefined
}

/**
 * The one owner of the workflows a socket follows: subscribe (limits, authorization, catch-up),
 * unsubscribe, and cleanup when the socket goes. An entry is reserved synchronously, before any
 * await, so that `maxSubscriptions` holds when many subscribes arrive at once, and so that an
 * unsubscribe (or a disconnect) during authorization or catch-up cancels it.
 */
export class SocketSubscriptions {
  readonly #entries = new Map<string, Subscription>()

  constructor(
    private readonly socket: Socket,
    private readonly context: SubscriptionContext,
  ) {}

  async subscribe(payload: unknown, ack: Ack): Promise<void> {
    const { options, streams, log } = this.context
    if (!isSubscribeRequest(payload)) {
      return ack(errorAck('INVALID_REQUEST', 'Expected { workflowId, afterSeq?, epoch? } with a valid workflowId'))
    }
    const { workflowId, afterSeq, epoch } = payload
    if (this.#entries.has(workflowId)) {
      return ack(errorAck('INVALID_REQUEST', 'Already subscribed to this workflow: unsubscribe first to replay it again'))
    }
    if (this.#entries.size >= options.maxSubscriptions) {
      return ack(errorAck('TOO_MANY_SUBSCRIPTIONS', `At most ${options.maxSubscriptions} workflows per connection`))
    }
    const subscription = new Subscription()
    this.#entries.set(workflowId, subscription)
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
      if (this.#entries.get(workflowId) !== subscription || socket.disconnected) throw new SubscriptionCancelled()
      if (!allowed) {
        this.#entries.delete(workflowId)
        return ack(errorAck('FORBIDDEN', 'Not allowed to follow this workflow'))
      }
      stream = subscription.stream = streams.acquire(workflowId)
      const catchUp = (subscription.catchUp = new CatchUp(socket, stream, this.context.catchUp))
      const outcome = await catchUp.run({ afterSeq, epoch })
      subscription.catchUp = undefined
      ack({ ok: true, workflowId, ...outcome })
    } catch (error) {
      this.#end(workflowId, subscription)
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
    const subscription = this.#entries.get(payload.workflowId)
    if (subscription !== undefined) this.#end(payload.workflowId, subscription)
    ack({ ok: true })
  }

  /** The socket disconnected: Socket.IO has already taken it out of its rooms. */
  close(): void {
    for (const [workflowId, subscription] of this.#entries) this.#end(workflowId, subscription)
  }

  /** Undo one subscription, whatever its state; a second call for the same one does nothing. */
  #end(workflowId: string, subscription: Subscription): void {
    if (this.#entries.get(workflowId) !== subscription) return
    this.#entries.delete(workflowId)
    const { stream, catchUp } = subscription
    subscription.stream = undefined
    subscription.catchUp = undefined
    // A catch-up still running ends in `subscribe`, which then releases the stream.
    if (catchUp !== undefined) return catchUp.cancel()
    if (stream === undefined) return
    void this.socket.leave(stream.room)
    this.context.streams.release(stream)
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
