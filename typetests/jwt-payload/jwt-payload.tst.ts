import type { FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import type { AgentEventsUser, AuthorizeContext } from 'fastify-agent-events'

// An app that types only its token's payload: @fastify/jwt's request.user is then that payload.
declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; plan: 'free' | 'pro' }
  }
}

describe('a FastifyJWT declaration with a payload and no user', () => {
  test('types the user as the payload, as request.user is', () => {
    expect<AgentEventsUser>().type.toBe<{ sub: string; plan: 'free' | 'pro' }>()
    expect<AuthorizeContext['user']>().type.toBe<FastifyRequest['user']>()
  })
})
