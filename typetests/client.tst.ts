import { Server } from 'socket.io'
import { io, type Socket } from 'socket.io-client'
import { describe, expect, test } from 'tstyche'
import type {
  AgentThoughtEvent,
  AgentToolCallEvent,
  AuthExpiredNotice,
  ClientErrorCode,
  ClientToServerEvents,
  RefreshAck,
  ServerShutdownNotice,
  ServerToClientEvents,
  SubscribeAck,
  UnsubscribeAck,
} from 'fastify-agent-events/schemas'

// socket.io-client's io() takes no type arguments: the maps type the Socket it returns.
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('https://api.example.com', { path: '/ws' })

describe('socket.io-client typed by ServerToClientEvents and ClientToServerEvents', () => {
  test('server events have typed payloads', () => {
    socket.on('agent:thought', (event) => {
      expect(event).type.toBe<AgentThoughtEvent>()
      expect(event.data.content).type.toBe<string>()
      expect(event.seq).type.toBe<number | undefined>()
    })
    socket.on('agent:tool_call', (event) => {
      expect(event).type.toBe<AgentToolCallEvent>()
    })
    socket.on('auth:expired', (notice) => {
      expect(notice).type.toBe<AuthExpiredNotice>()
      expect(notice.code).type.toBe<'AUTH_EXPIRED'>()
    })
    socket.on('server:shutdown', (notice) => {
      expect(notice).type.toBe<ServerShutdownNotice>()
    })
    expect(socket.on).type.not.toBeCallableWith('agent:progress', () => {})
  })

  test('requests take their payload and an acknowledgement callback', () => {
    socket.emit('agent:subscribe', { workflowId: 'wf-1', afterSeq: 3 }, (ack) => {
      expect(ack).type.toBe<SubscribeAck>()
      if (ack.ok) expect(ack.lastSeq).type.toBe<number>()
      else expect(ack.error.code).type.toBe<ClientErrorCode>()
    })
    expect(socket.emitWithAck('agent:unsubscribe', { workflowId: 'wf-1' })).type.toBe<Promise<UnsubscribeAck>>()
    expect(socket.emitWithAck('auth:refresh', { token: 'jwt' })).type.toBe<Promise<RefreshAck>>()
    expect(socket.emit).type.not.toBeCallableWith('agent:subscribe', { workflow: 'wf-1' }, () => {})
    expect(socket.emit).type.not.toBeCallableWith('agent:subscribe', { workflowId: 'wf-1', afterSeq: '3' }, () => {})
    expect(socket.emit).type.not.toBeCallableWith('agent:thought', { content: 'clients do not emit events' })
  })

  test('the same maps type a socket.io Server (in reverse order)', () => {
    const server = new Server<ClientToServerEvents, ServerToClientEvents>()
    expect(server.emit).type.toBeCallableWith('server:shutdown', { reconnect: true })
    expect(server.emit).type.not.toBeCallableWith('server:shutdown', { reconnect: false })
    server.on('connection', (client) => {
      client.on('agent:subscribe', (request, ack) => {
        expect(request.workflowId).type.toBe<string>()
        expect(ack).type.toBe<(reply: SubscribeAck) => void>()
      })
    })
  })
})
