import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import type { Server } from 'socket.io'
import { jsonSchema, streamText, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { describe, expect, test } from 'tstyche'
import agentEvents, {
  type AgentEventsDecorator,
  type MessageStream,
  type EmitTarget,
  type HistoryPage,
  type AgUiOptions,
  type PipeResult,
  fastifyAgentEvents,
} from 'fastify-agent-events'
import type {
  AgentDeltaEvent,
  AgentErrorEvent,
  AgentEvent,
  AgentResultEvent,
  AgentThoughtEvent,
  AgentToolCallEvent,
  RecordedAgentEvent,
  ToolCallStatus,
} from 'fastify-agent-events/schemas'

const app = Fastify()
await app.register(fastifyJwt, { secret: 'secret' })
await app.register(agentEvents)
const events = app.agentEvents

describe('fastify.agentEvents.stream()', () => {
  test('end() resolves with the event of the stream\'s kind', () => {
    const answer = events.stream('wf-1', { kind: 'result' })
    expect(answer).type.toBe<MessageStream<'result'>>()
    expect(answer.end({ status: 'success' })).type.toBe<Promise<AgentResultEvent>>()
    expect(events.stream('wf-1', { kind: 'thought', messageId: 'm-1' }).end()).type.toBe<Promise<AgentThoughtEvent>>()
    expect(answer.abort({ code: 'CANCELLED', message: 'stopped' })).type.toBe<Promise<AgentErrorEvent>>()
    expect(answer.write('text')).type.toBe<void>()
  })

  test('refuses what the stream sets itself, and kinds that do not stream', () => {
    expect(events.stream).type.not.toBeCallableWith('wf-1', { kind: 'tool_call' })
    expect(events.stream('wf-1', { kind: 'result' }).end).type.not.toBeCallableWith({ content: 'set by the stream' })
    expect(events.stream('wf-1', { kind: 'result' }).write).type.not.toBeCallableWith(42)
  })

  test('a delta is part of AgentEvent', () => {
    expect<Extract<AgentEvent, { type: 'delta' }>>().type.toBe<AgentDeltaEvent>()
  })
})

describe('fastify.agentEvents', () => {
  test('is the decorator, declared on every FastifyInstance', () => {
    expect(events).type.toBe<AgentEventsDecorator>()
    expect(Fastify().agentEvents).type.toBe<AgentEventsDecorator>()
    expect(fastifyAgentEvents).type.toBe(agentEvents)
  })

  test('each emitter resolves with its own event type', () => {
    expect(events.emitThought('wf-1', 'thinking')).type.toBe<Promise<AgentThoughtEvent>>()
    expect(events.emitToolCall('wf-1', { tool_name: 'search', status: 'pending' })).type.toBe<Promise<AgentToolCallEvent>>()
    expect(events.emitResult('wf-1', { status: 'success', content: 42 })).type.toBe<Promise<AgentResultEvent>>()
    expect(events.emitError('wf-1', { code: 'TOOL_TIMEOUT', message: 'late' })).type.toBe<Promise<AgentErrorEvent>>()
  })

  test('emit() narrows by type', () => {
    expect(events.emit({ type: 'thought', workflowId: 'wf-1', data: { content: 'x' } })).type.toBe<Promise<AgentThoughtEvent>>()
    expect(events.emit({ type: 'error', workflowId: 'wf-1', data: { code: 'E', message: 'm' } })).type.toBe<Promise<AgentErrorEvent>>()
    expect(events.emit).type.not.toBeCallableWith({ type: 'thought', workflowId: 'wf-1', data: { code: 'E', message: 'm' } })
    expect(events.emit).type.not.toBeCallableWith({ type: 'progress', workflowId: 'wf-1', data: {} })
  })

  test('event data is checked: tool call status, required keys, extra keys', () => {
    expect<ToolCallStatus>().type.toBe<'pending' | 'in_progress' | 'completed' | 'failed'>()
    expect(events.emitToolCall).type.not.toBeCallableWith('wf-1', { tool_name: 'search', status: 'done' })
    expect(events.emitToolCall).type.not.toBeCallableWith('wf-1', { status: 'pending' })
    expect(events.emitToolCall).type.toBeCallableWith('wf-1', { tool_name: 'search', status: 'completed', progress: 1 })
    expect(events.emitError).type.not.toBeCallableWith('wf-1', { code: 'E' })
    expect(events.emitThought).type.not.toBeCallableWith('wf-1', { content: 'x' })
    expect(events.emitResult).type.not.toBeCallableWith('wf-1', 'done')
  })

  test('a target is one socket or one user, not both', () => {
    expect(events.emitThought).type.toBeCallableWith('wf-1', 'x', { socketId: 'abc' })
    expect(events.emitThought).type.toBeCallableWith('wf-1', 'x', { userId: 'alice' })
    expect(events.emitThought).type.not.toBeCallableWith('wf-1', 'x', { socketId: 'abc', userId: 'alice' })
    expect(events.emitThought).type.not.toBeCallableWith('wf-1', 'x', {})
    expect<EmitTarget>().type.not.toBeAssignableFrom({ room: 'all' })
  })

  test('history, counters and the escape hatch', () => {
    expect(events.history('wf-1', { afterSeq: 3, limit: 10 })).type.toBe<Promise<HistoryPage>>()
    expect<HistoryPage['events'][number]>().type.toBe<RecordedAgentEvent>()
    expect<RecordedAgentEvent['seq']>().type.toBe<number>()
    expect(events.history).type.not.toBeCallableWith('wf-1', { after: 3 })
    expect(events.getConnectedCount()).type.toBe<number>()
    expect(events.getUserId('socket-id')).type.toBe<string | undefined>()
    expect(events.io).type.toBe<Server>()
  })

  test('pipe takes the fullStream of streamText, whatever its tools, and resolves with a PipeResult', () => {
    const weather = tool({
      inputSchema: jsonSchema<{ city: string }>({ type: 'object' }),
      execute: async ({ city }) => ({ city, sky: 'sunny' }),
    })
    const run = streamText({ model: new MockLanguageModelV4(), prompt: 'x', tools: { weather } })
    expect(events.pipe('wf-1', run.fullStream)).type.toBe<Promise<PipeResult>>()
    expect(events.pipe('wf-1', run.fullStream, { textSeparator: ' ', resultData: { conversationId: 'c-1' } })).type.toBe<Promise<PipeResult>>()
    expect(events.pipe).type.not.toBeCallableWith('wf-1', run.textStream)
    expect(events.pipe).type.not.toBeCallableWith('wf-1', run.fullStream, { resultData: { content: 'mine' } })
    expect<PipeResult['status']>().type.toBe<'success' | 'error' | 'aborted'>()
  })

  test('events narrow on type', () => {
    const narrow = (event: AgentEvent) => (event.type === 'tool_call' ? event.data.status : undefined)
    expect(narrow).type.toBe<(event: AgentEvent) => ToolCallStatus | undefined>()
  })
})

describe('events() and the agent UI replies', () => {
  test('events() is an async iterable of recorded events', () => {
    expect(events.events('wf-1')).type.toBe<AsyncIterable<RecordedAgentEvent>>()
    expect(events.events).type.toBeCallableWith('wf-1', { afterSeq: 3, compact: true, signal: AbortSignal.timeout(10) })
    expect(events.events).type.not.toBeCallableWith('wf-1', { afterSeq: '3' })
  })

  test('reply.agUi answers a route, with AG-UI run ids and the responder\'s options', () => {
    app.post('/agent', async (_request, reply) => {
      expect(reply.agUi('wf-1', { threadId: 't', runId: 'r', afterSeq: 2, resume: true, keepAlive: '5 seconds' })).type.toBe<Promise<typeof reply>>()
      expect(reply.agUi).type.not.toBeCallableWith('wf-1', { threadId: 1 })
      expect<AgUiOptions>().type.toBeAssignableFrom({ runId: 'r' })
      return reply.agUi('wf-1')
    })
  })
})
