import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import type { UIMessage } from 'ai'
import { describe, expect, test } from 'tstyche'
import agentEvents, { type UiMessageStreamMetadata, type UiMessageStreamOptions } from 'fastify-agent-events'
import type { ErrorData, ResultData } from 'fastify-agent-events/schemas'

const app = Fastify()
await app.register(fastifyJwt, { secret: 'secret' })
await app.register(agentEvents)

describe('reply.uiMessageStream()', () => {
  test('answers a route with the responder\'s options, and returns the reply', () => {
    app.post('/api/chat', async (_request, reply) => {
      expect(reply.uiMessageStream('wf-1', { afterSeq: 2, resume: true, keepAlive: '5 seconds' })).type.toBe<Promise<typeof reply>>()
      expect(reply.uiMessageStream).type.not.toBeCallableWith('wf-1', { resume: 'yes' })
      expect(reply.uiMessageStream).type.not.toBeCallableWith('wf-1', { threadId: 't' })
      expect<UiMessageStreamOptions>().type.toBeAssignableFrom({ resume: true })
      return reply.uiMessageStream('wf-1')
    })
  })

  test('its metadata types a useChat message', () => {
    type AgentMessage = UIMessage<UiMessageStreamMetadata>
    expect<NonNullable<AgentMessage['metadata']>['result']>().type.toBe<ResultData | undefined>()
    expect<NonNullable<AgentMessage['metadata']>['error']>().type.toBe<ErrorData | undefined>()
  })
})
