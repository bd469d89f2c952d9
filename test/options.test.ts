import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import t from 'tap'
import agentEvents, { MissingJwtError, type AgentEventsOptions } from '../src/index.ts'
import { normalizePath, resolveOptions } from '../src/options.ts'
import { SECRET } from './helpers.ts'

async function register(options: unknown): Promise<unknown> {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: SECRET })
  try {
    await app.register(agentEvents, options as AgentEventsOptions)
    await app.ready()
    return undefined
  } catch (error) {
    return error
  } finally {
    await app.close()
  }
}

const badOptions: [string, unknown][] = [
  ['path', { path: '' }],
  ['path', { path: 'ws' }],
  ['path', { path: '/ws/../admin' }],
  ['path', { path: '/w s' }],
  ['path', { path: '/' }],
  ['path', { path: 42 }],
  ['namespace', { namespace: 'agents' }],
  ['cors', { cors: 'yes' }],
  ['cors.origin', { cors: { origin: ['https://app.example.com/path'] } }],
  ['cors.origin', { cors: { origin: [42] } }],
  ['cors.credentials', { cors: { credentials: 'true' } }],
  ['auth', { auth: [] }],
  ['auth.tokenFrom', { auth: { tokenFrom: ['query'] } }],
  ['auth.tokenFrom', { auth: { tokenFrom: [] } }],
  ['auth.tokenFrom', { auth: { tokenFrom: ['cookie'] } }],
  ['auth.userIdClaim', { auth: { userIdClaim: '' } }],
  ['auth.verify', { auth: { verify: 'HS256' } }],
  ['auth.requireExp', { auth: { requireExp: 'no' } }],
  ['authorize', { authorize: true }],
  ['rateLimit', { rateLimit: true }],
  ['rateLimit.connection.max', { rateLimit: { connection: { max: 0, timeWindow: 1000 } } }],
  ['rateLimit.message.timeWindow', { rateLimit: { message: { max: 5, timeWindow: 'soon' } } }],
  ['replay', { replay: 'memory' }],
  ['replay.maxEvents', { replay: { maxEvents: -1 } }],
  ['replay.maxEvents', { replay: { maxEvents: 1.5 } }],
  ['replay.ttl', { replay: { ttl: 'forever' } }],
  ['replay.maxWorkflows', { replay: { maxWorkflows: 0 } }],
  ['replay.store', { replay: { store: {} } }],
  ['authorizeTimeout', { authorizeTimeout: 0 }],
  ['maxSubscriptions', { maxSubscriptions: Infinity }],
  ['maxBufferedBytes', { maxBufferedBytes: '1mb' }],
  ['maxEventBytes', { maxEventBytes: 0 }],
  ['maxEventBytes', { maxEventBytes: '256kb' }],
  ['maxEventBytes', { maxBufferedBytes: 100_000, maxEventBytes: 100_001 }],
  ['slowConsumerTimeout', { slowConsumerTimeout: 'soon' }],
  ['slowConsumerTimeout', { slowConsumerTimeout: 0 }],
  ['validate', { validate: 'yes' }],
  ['socketio', { socketio: 1 }],
  ['socketio.path', { socketio: { path: '/other' } }],
  ['socketio.allowRequest', { socketio: { allowRequest: () => true } }],
  ['unknownOption', { unknownOption: 1 }],
]

for (const [option, options] of badOptions) {
  t.test(`a bad "${option}" fails registration, naming it`, async (t) => {
    const error = (await register(options)) as { code?: string; message?: string } | undefined
    t.equal(error?.code, 'FST_AGENT_EVENTS_INVALID_OPTION')
    t.match(error?.message, `"${option}"`)
  })
}

t.test('paths are normalized: a trailing slash is dropped', async (t) => {
  t.equal(normalizePath(undefined), '/socket.io')
  t.equal(normalizePath('/ws'), '/ws')
  t.equal(normalizePath('/ws/'), '/ws')
  t.equal(normalizePath('/api/v1/events'), '/api/v1/events')
})

t.test('registration without @fastify/jwt fails with MissingJwtError, which says what to do', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const error = await app.register(agentEvents).ready().then(() => undefined, (error: unknown) => error)
  t.ok(error instanceof MissingJwtError, 'an instance of the exported class')
  t.match(error, {
    code: 'FST_AGENT_EVENTS_MISSING_JWT',
    message: /needs @fastify\/jwt: register it \(with the same secret as your REST routes\) before this plugin/,
  })
})

t.test('@fastify/jwt registered after the plugin is missing too: MissingJwtError', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(agentEvents)
  app.register(fastifyJwt, { secret: SECRET })
  await t.rejects(async () => app.ready(), { code: 'FST_AGENT_EVENTS_MISSING_JWT' })
})

t.test('good options register', async (t) => {
  t.equal(
    await register({
      path: '/ws/',
      namespace: '/agents',
      cors: { origin: 'https://app.example.com', credentials: true },
      auth: { tokenFrom: ['header'], userIdClaim: 'uid', verify: { allowedIss: 'me' }, requireExp: false },
      authorize: () => true,
      rateLimit: false,
      replay: { maxEvents: 10, ttl: 60_000, maxWorkflows: 5 },
      authorizeTimeout: 100,
      maxSubscriptions: 3,
      maxBufferedBytes: 1024,
      maxEventBytes: 1024,
      slowConsumerTimeout: '10 seconds',
      validate: false,
      socketio: { pingInterval: 10_000 },
    }),
    undefined,
  )
  t.equal(await register({ replay: false }), undefined)
})

t.test('flow-control limits: defaults, and one given alone moves the other', async (t) => {
  const limits = (options: Record<string, unknown>) => {
    const resolved = resolveOptions(options)
    t.teardown(() => resolved.store.close())
    const { maxBufferedBytes, maxEventBytes, slowConsumerTimeoutMs } = resolved
    return { maxBufferedBytes, maxEventBytes, slowConsumerTimeoutMs }
  }
  t.same(limits({}), { maxBufferedBytes: 1_048_576, maxEventBytes: 262_144, slowConsumerTimeoutMs: 5000 }, 'defaults')
  t.same(limits({ maxBufferedBytes: 100_000 }).maxEventBytes, 100_000, 'maxEventBytes defaults to a smaller maxBufferedBytes')
  t.same(limits({ maxBufferedBytes: 4_194_304 }).maxEventBytes, 262_144, 'and to its own default under a larger one')
  t.same(limits({ maxEventBytes: 2_097_152 }).maxBufferedBytes, 2_097_152, 'maxBufferedBytes defaults to a larger maxEventBytes')
  t.same(limits({ maxEventBytes: 1000 }).maxBufferedBytes, 1_048_576, 'and to its own default over a smaller one')
  t.same(limits({ maxBufferedBytes: 5000, maxEventBytes: 5000 }), { maxBufferedBytes: 5000, maxEventBytes: 5000, slowConsumerTimeoutMs: 5000 }, 'both equal')
  t.equal(limits({ slowConsumerTimeout: 1500 }).slowConsumerTimeoutMs, 1500, 'slowConsumerTimeout in ms')
  t.equal(limits({ slowConsumerTimeout: '2 seconds' }).slowConsumerTimeoutMs, 2000, 'or as a duration')
})

t.test('maxEventBytes over maxBufferedBytes names both', async (t) => {
  const error = (await register({ maxBufferedBytes: 100_000, maxEventBytes: 200_000 })) as Error
  t.match(error, { code: 'FST_AGENT_EVENTS_INVALID_OPTION', message: /"maxEventBytes".*maxBufferedBytes \(100000\)/ })
})
