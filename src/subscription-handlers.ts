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

/** Register `agent:subscribe` and `agent:unsubscribe` on an authenticated socket. */
export function handleSubscriptions(
  socket: Socket,
  channels: WorkflowChannels,
  options: Pick<ResolvedOptions, 'authorize' | 'authorizeTimeout' | 'maxSubscriptions'>,
  log: FastifyBaseLogger,
): void {
  // Workflows this socket follows or is subscribing to, reserved synchronously so that
  // maxSubscriptions holds when many subscribes arrive at once.
  const workflows = new Set<string>()

  socket.on('agent:subscribe', async (...args: unknown[]) => {
    const { payload, ack } = splitArguments(args)
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
  })

  socket.on('agent:unsubscribe', (...args: unknown[]) => {
    const { payload, ack } = splitArguments(args)
    if (!isUnsubscribeRequest(payload)) return ack(errorAck('INVALID_REQUEST', 'Expected { workflowId }'))
    workflows.delete(payload.workflowId)
    channels.unsubscribe(socket, payload.workflowId)
    ack({ ok: true })
  })

  socket.on('disconnect', () => {
    channels.forget(workflows)
    workflows.clear()
  })
}
