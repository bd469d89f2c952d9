import type { FastifyJWTOptions } from '@fastify/jwt'
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import agentEvents, { type AgentEventsUser, type AuthorizeContext } from 'fastify-agent-events'

// The app types its JWT once, for @fastify/jwt's `request.user` and for the plugin alike.
declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; tenant: string }
    user: { sub: string; tenant: string; roles: string[] }
  }
}

describe('a user type declared through @fastify/jwt FastifyJWT', () => {
  test('is request.user\'s type on routes, and the socket\'s', () => {
    expect<AgentEventsUser>().type.toBe<FastifyRequest['user']>()
  })

  test('formatUser: the function given to @fastify/jwt is accepted as it is, and its result is the user', () => {
    const formatUser: NonNullable<FastifyJWTOptions['formatUser']> = (payload) => ({ ...payload, roles: [] })
    const app = Fastify()
    expect(app.register).type.toBeCallableWith(agentEvents, { auth: { formatUser } })
    expect(app.register).type.not.toBeCallableWith(agentEvents, {
      auth: { formatUser: (payload: { sub: string; tenant: string }) => ({ sub: payload.sub }) },
    })
  })

  test('is the type of AgentEventsUser and of authorize({ user })', () => {
    expect<AgentEventsUser>().type.toBe<{ sub: string; tenant: string; roles: string[] }>()
    expect<AuthorizeContext['user']>().type.toBe<{ sub: string; tenant: string; roles: string[] }>()
  })

  test('lets authorize read its claims, and only those', () => {
    const app = Fastify()
    expect(app.register).type.toBeCallableWith(agentEvents, {
      authorize: ({ user, workflowId }: AuthorizeContext) => user.roles.includes('admin') || workflowId.startsWith(user.tenant),
    })
    expect(app.register).type.not.toBeCallableWith(agentEvents, {
      authorize: ({ user }: { user: { email: string } }) => user.email.endsWith('@example.com'),
    })
  })
})
