import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Socket } from 'socket.io'
import { createAgentEvents, type AgentEventsDecorator } from './emitters.ts'
import { MissingJwtError } from './errors.ts'
import { createHandshakeAuthenticator } from './handshake-auth.ts'
import { resolveOptions, type AgentEventsOptions } from './options.ts'
import { originCheck } from './origin-check.ts'
import { createRateLimits } from './rate-limits.ts'
import { userRoom } from './rooms.ts'
import { disconnectLocalSockets } from './shutdown.ts'
import { createSlowConsumerGuard } from './slow-consumer.ts'
import { identityOf } from './socket-identity.ts'
import { attachSocketServer, exactPathCheck } from './socket-server.ts'
import { createSubscriptionHandlers } from './socket-subscriptions.ts'
import { clockToleranceOf, createTokenExpiries } from './token-expiry.ts'
import { createTokenRefreshHandler } from './token-refresh.ts'
import { answerUnknownEvents } from './unknown-events.ts'
import { WorkflowStreams } from './delivery/workflow-streams.ts'
import { decorateAgentUiReplies } from './bridges/reply-decorators.ts'

declare module 'fastify' {
  interface FastifyInstance {
    agentEvents: AgentEventsDecorator
  }
}

async function agentEvents(fastify: FastifyInstance, rawOptions: AgentEventsOptions): Promise<void> {
  const options = resolveOptions(rawOptions)
  const log = fastify.log.child({ plugin: 'fastify-agent-events' })
  let stopWatching: (() => Promise<void>) | undefined
  try {
    if (typeof (fastify as { jwt?: { verify?: unknown } }).jwt?.verify !== 'function') throw new MissingJwtError()
    if (options.authorize === undefined) {
      log.warn('no authorize hook given: every authenticated user may follow every workflow')
    }
    const rateLimits = await createRateLimits(fastify, options, log)
    const { io, ownsServer } = attachSocketServer(fastify, options, [
      exactPathCheck(options.path),
      originCheck(options.cors),
    ], rateLimits?.sessions)
    if (!ownsServer) {
      log.warn('reusing the app\'s fastify.io: its own allowRequest and cors decide which handshakes reach the plugin (path and Origin checks are not added)')
    }
    const namespace = io.of(options.namespace)
    const streams = new WorkflowStreams({ namespace, store: options.store, log })
    if (options.socketio.adapter !== undefined && options.ownsStore) {
      log.warn('socketio.adapter is set but the replay store is this process\'s own: each node numbers and replays events by itself (use redisReplayStore)')
    }
    // The one route of a recorded event: the store's watch hands every event recorded by any node
    // (this one included) to this node's ordered streams.
    stopWatching = options.store.watch({
      onEvent: (event, epoch) => streams.receive(event, epoch),
      onError: (error) => log.error({ err: error }, 'replay store: link to other nodes failed, retrying'),
      onReconnect: () => streams.resync(),
    })
    // Per-socket work is done by listeners created once here and shared by every socket, so that
    // an idle connection costs little more than Socket.IO's own.
    const slowConsumers = createSlowConsumerGuard(namespace, options, log)
    const expiries = createTokenExpiries(clockToleranceOf(options.verify), log)
    const subscriptions = createSubscriptionHandlers({
      streams,
      catchUp: {
        store: options.store,
        replayEnabled: options.replayEnabled,
        paceBelowBytes: options.maxBufferedBytes / 2,
        maxEventBytes: options.maxEventBytes,
      },
      options,
      log,
    })
    const onRefresh = createTokenRefreshHandler(fastify, options, expiries, log)
    function onDisconnect(this: Socket): void {
      expiries.untrack(this)
      subscriptions.detach(this)
    }

    // The limit comes first, so that a flood of bad tokens is counted too.
    if (rateLimits !== undefined) namespace.use(rateLimits.handshake)
    namespace.use(createHandshakeAuthenticator(fastify, options, log))
    namespace.on('connection', (socket) => {
      const identity = identityOf(socket)
      if (identity === undefined) return void socket.disconnect(true)
      rateLimits?.limitMessages(socket)
      answerUnknownEvents(socket)
      void socket.join(userRoom(identity.userId))
      subscriptions.attach(socket)
      socket.on('auth:refresh', onRefresh)
      expiries.track(socket)
      socket.on('disconnect', onDisconnect)
    })

    const agentEvents = createAgentEvents({
      io,
      namespace,
      store: options.store,
      streams,
      validate: options.validate,
      maxEventBytes: options.maxEventBytes,
      streamingWindowMs: options.streamingWindowMs,
      log,
    })
    fastify.decorate('agentEvents', agentEvents.decorator)
    decorateAgentUiReplies(fastify, {
      openReader: agentEvents.openReader,
      authorize: options.authorize,
      authorizeTimeout: options.authorizeTimeout,
      userIdClaim: options.userIdClaim,
      log,
    })

    // Fastify's close() waits for open connections: tell this node's clients, then let them go.
    // Sessions that joined no namespace (a long poll held open) are closed here too, or the HTTP
    // server would wait for their next ping before onClose ran.
    fastify.addHook('preClose', async () => {
      // First, while clients are still connected: a message never ended ends with agent:error.
      await agentEvents.abortOpenStreams()
      // An open event stream (an agent UI route's response) would hold the server open: end them.
      agentEvents.closeReaders()
      await disconnectLocalSockets(namespace)
      if (ownsServer) io.engine.close()
    })
    fastify.addHook('onClose', async () => {
      await stopWatching?.()
      expiries.close()
      slowConsumers.close()
      streams.close()
      // io.close() also closes engine.io's clients, including long-polling ones whose timers
      // would otherwise keep the process alive.
      if (ownsServer) await io.close()
      if (options.ownsStore) await options.store.close()
    })
  } catch (error) {
    await stopWatching?.()
    if (options.ownsStore) await options.store.close()
    throw error
  }
}

/** The Fastify plugin. Register `@fastify/jwt` first. */
export const fastifyAgentEvents = fp(agentEvents, {
  fastify: '5.x',
  name: 'fastify-agent-events',
  // No `dependencies: ['@fastify/jwt']`: that check would fire before the plugin runs, with
  // Fastify's generic error. The plugin checks `fastify.jwt.verify` itself and throws
  // MissingJwtError, which says what to register and how.
})
