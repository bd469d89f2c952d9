import type { FastifyBaseLogger } from 'fastify'
import type { Socket } from 'socket.io'
import { isAuthorized } from './authorization.ts'
import { compileRequestCheck, errorAck, splitArguments } from './client-requests.ts'
import type { ResolvedOptions } from './options.ts'
import { SubscribeRequest, UnsubscribeRequest } from './schemas/index.ts'
import { identityOf } from './socket-identity.ts'
import { SubscriptionCancelled, type WorkflowChannels } from './workflow-channels.ts'

const isSubscribeRequest = compileRequestCheck(SubscribeRequest)
const isUnsubscribeRequest = compileRequestCheck(UnsubscribeRequest)

export interface SubscriptionHandlers {
  /** Register `agent:subscribe` and `agent:unsubscribe` on an authenticated socket. */
  attach(socket: Socket): void
  /** Forget a disconnected socket's subscriptions (Socket.IO has already taken it out of its rooms). */
  detach(socket: Socket): void
}

/**
 * The handlers are created once and shared by every socket (Socket.IO calls them with the socket
 * as `this`); a socket costs only the set of workflows it follows.
 */
export function createSubscriptionHandlers(
  channels: WorkflowChannels,
  options: Pick<ResolvedOptions, 'authorize' | 'authorizeTimeout' | 'maxSubscriptions'>,
  log: FastifyBaseLogger,
): SubscriptionHandlers {
  // Workflows each socket follows or is subscribing to, reserved synchronously so that
  // maxSubscriptions holds when many subscribes arrive at once.
  const followed = new WeakMap<Socket, Set<string>>()

  async function onSubscribe(this: Socket, ...args: unknown[]): Promise<void> {
    const socket = this
    const workflows = followed.get(socket)
    const { payload, ack } = splitArguments(args)
    if (workflows === undefined) return ack(errorAck('INVALID_REQUEST', 'Not connected'))
    if (!isSubscribeRequest(payload)) {
      return ack(errorAck('INVALID_REQUEST', 'Expected { workflowId, afterSeq?, epoch? } with a valid workflowId'))
    }
    const { workflowId, afterSeq, epoch } = payload
    if (workflows.has(workflowId)) {
      return ack(errorAck('INVALID_REQUEST', 'Already subscribed to this workflow: unsubscribe first to replay it again'))
    }
    if (workflows.size >= options.maxSubscriptions) {
      return ack(errorAck('TOO_MANY_SUBSCRIPTIONS', `At most ${options.maxSubscriptions} workflows per connection`))
    }
    workflows.add(workflowId)
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
      if (!workflows.has(workflowId) || socket.disconnected) throw new SubscriptionCancelled()
      if (!allowed) {
        workflows.delete(workflowId)
        return ack(errorAck('FORBIDDEN', 'Not allowed to follow this workflow'))
      }
      const outcome = await channels.subscribe(socket, workflowId, { afterSeq, epoch })
      ack({ ok: true, workflowId, ...outcome })
    } catch (error) {
      workflows.delete(workflowId)
      if (error instanceof SubscriptionCancelled) {
        return ack(errorAck('INVALID_REQUEST', 'Unsubscribed before the subscription completed'))
      }
      log.error({ err: error, workflowId }, 'subscribe failed')
      ack(errorAck('INTERNAL', 'Could not subscribe, try again'))
    }
  }

  function onUnsubscribe(this: Socket, ...args: unknown[]): void {
    const { payload, ack } = splitArguments(args)
    if (!isUnsubscribeRequest(payload)) return ack(errorAck('INVALID_REQUEST', 'Expected { workflowId }'))
    followed.get(this)?.delete(payload.workflowId)
    channels.unsubscribe(this, payload.workflowId)
    ack({ ok: true })
  }

  return {
    attach(socket) {
      followed.set(socket, new Set())
      socket.on('agent:subscribe', onSubscribe)
      socket.on('agent:unsubscribe', onUnsubscribe)
    },
    detach(socket) {
      const workflows = followed.get(socket)
      if (workflows === undefined) return
      channels.forget(workflows)
      workflows.clear()
    },
  }
}
