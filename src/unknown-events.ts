import type { Socket } from 'socket.io'
import { errorAck } from './client-requests.ts'

/**
 * A request to an event nobody listens to is answered `INVALID_REQUEST` when it carries an
 * acknowledgement, so a client waiting on it gets an answer instead of a timeout. Events that the
 * app itself listens to (through `fastify.agentEvents.io`) pass untouched.
 */
export function answerUnknownEvents(socket: Socket): void {
  socket.use((packet, next) => {
    const [event] = packet
    if (typeof event === 'string' && socket.listenerCount(event) > 0) return next()
    const ack = packet.at(-1)
    if (typeof ack === 'function') ack(errorAck('INVALID_REQUEST', 'Unknown event'))
  })
}
