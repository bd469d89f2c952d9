import type { Socket } from 'socket.io'
import { errorAck } from './client-requests.ts'

/**
 * Names a client may never send. Socket.IO gives every socket a no-op `error` listener and uses
 * `error` for its own middleware failures, so a client-sent `error` would reach the app's error
 * handlers looking like the server's own.
 */
const CLIENT_FORBIDDEN_EVENTS: ReadonlySet<string> = new Set(['error'])

/**
 * A request to an event nobody listens to is answered `INVALID_REQUEST` when it carries an
 * acknowledgement, so a client waiting on it gets an answer instead of a timeout. Events that the
 * app itself listens to (through `fastify.agentEvents.io`) pass untouched.
 */
export function answerUnknownEvents(socket: Socket): void {
  socket.use((packet, next) => {
    const [event] = packet
    if (typeof event === 'string' && !CLIENT_FORBIDDEN_EVENTS.has(event) && socket.listenerCount(event) > 0) return next()
    const ack = packet.at(-1)
    if (typeof ack === 'function') ack(errorAck('INVALID_REQUEST', 'Unknown event'))
  })
}
