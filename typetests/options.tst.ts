import type { FastifyJWTOptions } from '@fastify/jwt'
import Fastify, { type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { Socket } from 'socket.io'
import { describe, expect, test } from 'tstyche'
import agentEvents, {
  type AgentEventsOptions,
  type AgentEventsUser,
  type AuthorizeContext,
  type ReplayStore,
  InvalidEventError,
  InvalidOptionError,
  MissingJwtError,
  memoryReplayStore,
} from 'fastify-agent-events'

const app = Fastify()

describe('registration options', () => {
  test('every option is optional', () => {
    expect(app.register).type.toBeCallableWith(agentEvents)
    expect(app.register).type.toBeCallableWith(agentEvents, {})
  })

  test('accepts the documented options', () => {
    expect(app.register).type.toBeCallableWith(agentEvents, {
      path: '/ws',
      namespace: '/agents',
      cors: { origin: ['https://app.example.com'], credentials: true },
      auth: { tokenFrom: ['auth', 'header', 'cookie'], userIdClaim: 'uid', verify: { allowedAud: 'api' }, requireExp: false },
      authorize: async ({ userId, workflowId }: AuthorizeContext) => workflowId.startsWith(userId),
      authorizeTimeout: 2000,
      rateLimit: { connection: { max: 10, timeWindow: '1 minute' }, message: { max: 5, timeWindow: 1000 } },
      replay: { maxEvents: 100, ttl: '10 minutes', maxWorkflows: 50 },
      maxSubscriptions: 10,
      maxBufferedBytes: 65_536,
      validate: false,
      socketio: { pingInterval: 10_000, transports: ['websocket'] },
    })
    expect(app.register).type.toBeCallableWith(agentEvents, { rateLimit: false, replay: false })
    expect(app.register).type.toBeCallableWith(agentEvents, { replay: { store: memoryReplayStore({ maxEvents: 10 }) } })
  })

  test('refuses misspelt or mistyped options', () => {
    expect(app.register).type.not.toBeCallableWith(agentEvents, { path: 42 })
    expect(app.register).type.not.toBeCallableWith(agentEvents, { auth: { tokenFrom: ['query'] } })
    expect(app.register).type.not.toBeCallableWith(agentEvents, { rateLimit: true })
    expect(app.register).type.not.toBeCallableWith(agentEvents, { authorize: 'yes' })
    expect<AgentEventsOptions>().type.not.toBeAssignableFrom({ paht: '/ws' })
  })

  test('authorize receives a typed context and may answer later', () => {
    void app.register(agentEvents, {
      authorize: (context) => {
        expect(context).type.toBe<AuthorizeContext>()
        return true
      },
    })
    expect<AuthorizeContext>().type.toBe<
      | { user: AgentEventsUser; userId: string; workflowId: string; socket: Socket; request?: undefined }
      | { user: AgentEventsUser; userId: string; workflowId: string; request: FastifyRequest; socket?: undefined }
    >()
    expect<NonNullable<AgentEventsOptions['authorize']>>().type.toBeAssignableFrom(() => true)
    expect<NonNullable<AgentEventsOptions['authorize']>>().type.toBeAssignableFrom(async () => false)
    expect<NonNullable<AgentEventsOptions['authorize']>>().type.not.toBeAssignableFrom(() => 'yes')
  })

  test('authorize is asked over a socket or an HTTP route: testing one narrows to it', () => {
    void app.register(agentEvents, {
      authorize: (context) => {
        if (context.socket !== undefined) expect(context.socket.id).type.toBe<string>()
        else expect(context.request.headers).type.toBe<FastifyRequest['headers']>()
        // A route's context has no socket, so it must be tested first:
        // @ts-expect-error 'context.socket' is possibly 'undefined'
        void context.socket.id
        return true
      },
    })
  })

  test('without a FastifyJWT declaration, the user is typed as @fastify/jwt types request.user', () => {
    expect<AgentEventsUser>().type.toBe<FastifyRequest['user']>()
    expect<AgentEventsUser>().type.toBe<string | object | Buffer>()
  })

  test('trustProxy takes what Fastify\'s trustProxy takes', () => {
    expect<NonNullable<AgentEventsOptions['trustProxy']>>().type.toBe<NonNullable<FastifyServerOptions['trustProxy']>>()
    expect(app.register).type.toBeCallableWith(agentEvents, { trustProxy: ['127.0.0.1', '10.0.0.0/8'] })
    expect(app.register).type.toBeCallableWith(agentEvents, { trustProxy: (address: string, hop: number) => address === '10.0.0.1' && hop === 0 })
    expect(app.register).type.not.toBeCallableWith(agentEvents, { trustProxy: { ip: '10.0.0.1' } })
  })

  test('auth.formatUser takes the very function given to @fastify/jwt', () => {
    const formatUser: NonNullable<FastifyJWTOptions['formatUser']> = (payload) => payload
    expect(app.register).type.toBeCallableWith(agentEvents, { auth: { formatUser } })
    expect(app.register).type.not.toBeCallableWith(agentEvents, { auth: { formatUser: 'yes' } })
  })

  test('a replay store is the small documented contract', () => {
    expect(memoryReplayStore()).type.toBeAssignableTo<ReplayStore>()
    expect<ReplayStore>().type.toHaveProperty('append')
    expect<ReplayStore>().type.toHaveProperty('read')
    expect<ReplayStore>().type.toHaveProperty('close')
  })

  test('errors are exported classes with literal codes, and no any in their arguments', () => {
    expect(new InvalidOptionError('path', 'bad').code).type.toBe<'FST_AGENT_EVENTS_INVALID_OPTION'>()
    expect(new InvalidOptionError('path', 'bad').statusCode).type.toBe<500>()
    expect(new InvalidEventError('bad').code).type.toBe<'FST_AGENT_EVENTS_INVALID_EVENT'>()
    expect(new MissingJwtError().code).type.toBe<'FST_AGENT_EVENTS_MISSING_JWT'>()
    expect(InvalidOptionError).type.not.toBeConstructableWith(42)
    expect(MissingJwtError).type.not.toBeConstructableWith('unexpected')
  })
})
