// The README's "Typed clients" snippet, copied as written between the markers
// (test/readme-typed-client.test.ts checks that the two stay the same).
import { expect, test } from 'tstyche'

declare const apiUrl: string
declare function getToken(): string
declare const workflowId: string
declare const afterSeq: number
declare let lastSeq: number
declare function retryIn(ms: number): void

// README start
import { io, type Socket } from 'socket.io-client'
import type { ClientToServerEvents, ServerToClientEvents } from 'fastify-agent-events/schemas'

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(apiUrl, {
  path: '/ws',
  auth: (cb) => cb({ token: getToken() }),
})
const ack = await socket.emitWithAck('agent:subscribe', { workflowId, afterSeq }) // SubscribeAck
if (ack.ok) lastSeq = ack.lastSeq
else if (ack.error.code === 'RATE_LIMITED') retryIn(ack.error.retryAfterMs)
// README end

test('the README typed-client snippet type-checks as written', () => {
  expect(retryIn).type.toBeCallableWith(1500)
  if (!ack.ok && ack.error.code === 'RATE_LIMITED') expect(ack.error.retryAfterMs).type.toBe<number>()
})
