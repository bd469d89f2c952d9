import { describe, expect, test } from 'tstyche'
import {
  createAgentEventsClient,
  type AgentEventsClient,
  type AgentEventsClientError,
  type ClientStatus,
  type ResetInfo,
  type RunStatus,
  type StreamedMessage,
  type WorkflowRun,
} from 'fastify-agent-events/client'
import type { AgentEvent, ErrorData } from 'fastify-agent-events/schemas'

const client = createAgentEventsClient('https://api.example.com', { path: '/ws', token: () => Promise.resolve('jwt') })

describe('createAgentEventsClient', () => {
  test('takes a token as a string or a function, storage as a name, false or an object, and socket.io-client options', () => {
    expect(createAgentEventsClient).type.toBeCallableWith('https://api.example.com')
    expect(createAgentEventsClient).type.toBeCallableWith('https://api.example.com', { token: 'jwt', storage: false })
    expect(createAgentEventsClient).type.toBeCallableWith('https://api.example.com', { token: () => 'jwt', storage: 'local' })
    expect(createAgentEventsClient).type.toBeCallableWith('https://api.example.com', {
      storage: { getItem: () => null, setItem: () => {}, removeItem: () => {} },
      socket: { transports: ['websocket'], reconnectionDelayMax: 2000 },
    })
    expect(createAgentEventsClient).type.not.toBeCallableWith('https://api.example.com', { storage: 'cookie' })
    expect(createAgentEventsClient).type.not.toBeCallableWith('https://api.example.com', { token: 42 })
    expect(client).type.toBe<AgentEventsClient>()
    expect(client.status).type.toBe<ClientStatus>()
  })

  test('status and error listeners are typed by name', () => {
    client.on('status', (status) => expect(status).type.toBe<ClientStatus>())
    client.on('error', (error) => {
      expect(error).type.toBe<AgentEventsClientError>()
      expect(error.code).type.toBe<string>()
    })
    expect(client.on('status', () => {})).type.toBe<() => void>()
    expect(client.on).type.not.toBeCallableWith('message', () => {})
  })
})

describe('follow', () => {
  test('callbacks get typed events, resets and errors', () => {
    const run = client.follow('wf-1', {
      onEvent: (event) => {
        expect(event).type.toBe<AgentEvent>()
        if (event.type === 'delta') expect(event.data.text).type.toBe<string>()
      },
      onReset: (info) => expect(info).type.toBe<ResetInfo>(),
      onError: (error) => expect(error).type.toBe<AgentEventsClientError>(),
      onStatus: (status) => expect(status).type.toBe<RunStatus>(),
    })
    expect(run).type.toBe<WorkflowRun>()
    expect(run.lastSeq).type.toBe<number>()
    expect(run.epoch).type.toBe<string | undefined>()
    expect(run.status).type.toBe<RunStatus>()
    expect(run.messages).type.toBe<ReadonlyMap<string, StreamedMessage>>()
    expect<StreamedMessage['error']>().type.toBe<ErrorData | undefined>()
    expect<ResetInfo['reason']>().type.toBe<'truncated' | 'epoch'>()
  })

  test('a run\'s status listener is typed by name and returns the function that stops it', () => {
    const run = client.follow('wf-1')
    run.on('status', (status) => expect(status).type.toBe<RunStatus>())
    expect(run.on('status', () => {})).type.toBe<() => void>()
    expect(run.on).type.not.toBeCallableWith('event', () => {})
    expect(run.on).type.not.toBeCallableWith('status', (status: number) => status)
  })

  test('a run is an async iterable of events', async () => {
    for await (const event of client.follow('wf-1')) expect(event).type.toBe<AgentEvent>()
  })
})
