import { describe, expect, test } from 'tstyche'
import {
  AgentErrorEvent,
  AgentEvent,
  AgentResultEvent,
  AgentThoughtEvent,
  AgentToolCallEvent,
  AuthExpiredNotice,
  ErrorAck,
  ErrorData,
  HandshakeError,
  RefreshAck,
  RefreshRequest,
  ResultData,
  ServerShutdownNotice,
  SubscribeAck,
  SubscribeRequest,
  ThoughtData,
  ToolCallData,
  UnsubscribeAck,
  UnsubscribeRequest,
  type ClientErrorCode,
} from 'fastify-agent-events/schemas'

describe('schemas carry their $id in their type', () => {
  test('each $id is its literal, so it can name a $ref', () => {
    expect(AgentThoughtEvent.$id).type.toBe<'AgentThoughtEvent'>()
    expect(AgentToolCallEvent.$id).type.toBe<'AgentToolCallEvent'>()
    expect(AgentResultEvent.$id).type.toBe<'AgentResultEvent'>()
    expect(AgentErrorEvent.$id).type.toBe<'AgentErrorEvent'>()
    expect(AgentEvent.$id).type.toBe<'AgentEvent'>()
    expect(ThoughtData.$id).type.toBe<'AgentThoughtData'>()
    expect(ToolCallData.$id).type.toBe<'AgentToolCallData'>()
    expect(ResultData.$id).type.toBe<'AgentResultData'>()
    expect(ErrorData.$id).type.toBe<'AgentErrorData'>()
    expect(SubscribeRequest.$id).type.toBe<'AgentSubscribeRequest'>()
    expect(SubscribeAck.$id).type.toBe<'AgentSubscribeAck'>()
    expect(UnsubscribeRequest.$id).type.toBe<'AgentUnsubscribeRequest'>()
    expect(UnsubscribeAck.$id).type.toBe<'AgentUnsubscribeAck'>()
    expect(RefreshRequest.$id).type.toBe<'AgentRefreshRequest'>()
    expect(RefreshAck.$id).type.toBe<'AgentRefreshAck'>()
    expect(ErrorAck.$id).type.toBe<'AgentErrorAck'>()
    expect(AuthExpiredNotice.$id).type.toBe<'AgentAuthExpired'>()
    expect(ServerShutdownNotice.$id).type.toBe<'AgentServerShutdown'>()
    expect(HandshakeError.$id).type.toBe<'AgentHandshakeError'>()
  })
})

describe('an error ack is a union on code', () => {
  test('RATE_LIMITED always carries retryAfterMs as a number', () => {
    const ack = {} as ErrorAck
    if (ack.error.code === 'RATE_LIMITED') expect(ack.error.retryAfterMs).type.toBe<number>()
    else expect(ack.error).type.not.toHaveProperty('retryAfterMs')
    expect(ack.error.code).type.toBe<ClientErrorCode>()
  })

  test('the same narrowing works on every acknowledgement', () => {
    for (const ack of [{} as SubscribeAck, {} as UnsubscribeAck, {} as RefreshAck]) {
      if (!ack.ok && ack.error.code === 'RATE_LIMITED') expect(ack.error.retryAfterMs).type.toBe<number>()
    }
  })

  test('an ack that breaks the rule is not an ErrorAck', () => {
    expect<ErrorAck>().type.toBeAssignableFrom({ ok: false as const, error: { code: 'RATE_LIMITED' as const, message: 'slow down', retryAfterMs: 10 } })
    expect<ErrorAck>().type.not.toBeAssignableFrom({ ok: false as const, error: { code: 'RATE_LIMITED' as const, message: 'slow down' } })
    expect<ErrorAck>().type.not.toBeAssignableFrom({ ok: false as const, error: { code: 'FORBIDDEN' as const, message: 'no', retryAfterMs: 10 } })
  })
})
