// The demo app: a login that issues short-lived tokens, a route that starts a simulated agent run,
// the plugin streaming that run to the browser, a REST fallback over the replay buffer, Swagger UI
// for the REST routes, the AsyncAPI document of the socket protocol, and the static page.
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import fastifyStatic from '@fastify/static'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import Type from 'typebox'
import agentEvents, { type AgentEventsOptions } from 'fastify-agent-events'
import * as schemas from 'fastify-agent-events/schemas'
import { AgentDeltaEvent, AgentErrorEvent, AgentResultEvent, AgentThoughtEvent, AgentToolCallEvent, WorkflowId } from 'fastify-agent-events/schemas'
import { serveClientModules } from './client-modules.ts'
import { DEFAULT_STEP_MS, DEFAULT_TOKEN_MS, SCENARIOS, playRun, type RunOptions, type Scenario } from './agent-run.ts'

export const SOCKET_PATH = '/ws'
/** Demo tokens live this long; the page fetches a new one before it runs out. */
export const TOKEN_TTL_SECONDS = 600
/** Bounds that keep a public demo from growing without limit. */
export const LIMITS = Object.freeze({ activeRuns: 20, knownRuns: 1000 })

export interface DemoOptions {
  secret: string
  logger?: FastifyServerOptions['logger']
  /** Awaited before each step of every run (tests hold a run at a chosen step with it). */
  beforeStep?: RunOptions['beforeStep']
  /** Awaited before each token of a streamed thought or result (tests hold a message half-written). */
  beforeToken?: RunOptions['beforeToken']
  /** The plugin's `replay` option (tests make the buffer small, so that a page away too long is told of a reset). */
  replay?: AgentEventsOptions['replay']
}

const LoginBody = Type.Object(
  { username: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Any name: this is a demo.' }) },
  { additionalProperties: false },
)
const LoginReply = Type.Object({
  token: Type.String({ description: 'A JWT for the REST routes and the Socket.IO handshake.' }),
  expiresAt: Type.String({ description: 'ISO 8601 time at which the token expires.' }),
})
const StartRunBody = Type.Object(
  {
    scenario: Type.Optional(Type.Enum(SCENARIOS, { description: '`success` ends with a result, `failure` with an error.' })),
    stepMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 5000, description: `Pause between steps (default ${DEFAULT_STEP_MS}).` })),
    tokenMs: Type.Optional(Type.Integer({
      minimum: 5,
      maximum: 1000,
      description: `Pause before each token of a streamed thought or result (default ${DEFAULT_TOKEN_MS}).`,
    })),
  },
  { additionalProperties: false },
)
const StartRunReply = Type.Object({ workflowId: WorkflowId, scenario: Type.Enum(SCENARIOS) })
const WorkflowParams = Type.Object({ id: WorkflowId })
const EventsQuery = Type.Object(
  {
    afterSeq: Type.Optional(Type.Integer({ minimum: 0, default: 0, description: 'Events with a greater `seq`.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    compact: Type.Optional(Type.Boolean({
      default: false,
      description: 'Leave out the deltas of a finished message and merge those of a message still streaming into one.',
    })),
  },
  { additionalProperties: false },
)
// The shared event schemas are added once by their `$id`s and referenced: inlining the `AgentEvent`
// union would embed `AgentWorkflowId` four times, which the response serializer refuses.
const EVENT_SCHEMAS = [AgentThoughtEvent, AgentToolCallEvent, AgentResultEvent, AgentErrorEvent, AgentDeltaEvent] as const
const EventsPage = Type.Object({
  events: Type.Array(Type.Union(EVENT_SCHEMAS.map((schema) => Type.Ref(schema.$id)))),
  lastSeq: Type.Integer({ minimum: 0, description: 'Highest `seq` of the workflow so far.' }),
  truncated: Type.Boolean({ description: 'Events after `afterSeq` had already left the replay buffer.' }),
  compacted: Type.Optional(Type.Integer({ minimum: 0, description: 'With `compact`: events left out or merged into another.' })),
})
const Problem = Type.Object({ statusCode: Type.Integer(), error: Type.String(), message: Type.String() })

/** `asyncapiDocument` is served when the schemas entry provides it. */
type AsyncApiBuilder = (options: { title: string; version: string; path: string }) => unknown
const asyncapiDocument = (schemas as Record<string, unknown>)['asyncapiDocument'] as AsyncApiBuilder | undefined

export async function buildDemoApp(options: DemoOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })
  const owners = new Map<string, string>()
  const activeRuns = new Set<Promise<void>>()
  const shutdown = new AbortController()

  await app.register(fastifyJwt, { secret: options.secret })
  for (const schema of EVENT_SCHEMAS) app.addSchema(schema)
  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'fastify-agent-events demo',
        version: '1.0.0',
        description: `REST routes of the demo. Live events travel over Socket.IO on \`${SOCKET_PATH}\`${asyncapiDocument === undefined ? '' : ' (see /asyncapi.json)'}.`,
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    // Components keep the shared schemas' own names (AgentThoughtEvent…) instead of def-0, def-1…
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`),
    },
  })
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' })
  // A run must not outlive the server: stop every run before the plugin starts closing (hooks run
  // in the order they were added), so that a message a run was writing ends with the run's own
  // error rather than the plugin's SERVER_CLOSING.
  app.addHook('preClose', async () => {
    shutdown.abort()
    await Promise.all(activeRuns)
  })
  await app.register(agentEvents, {
    path: SOCKET_PATH,
    // The user who started a run is the only one who may follow it.
    authorize: ({ userId, workflowId }) => owners.get(workflowId) === userId,
    ...(options.replay === undefined ? {} : { replay: options.replay }),
  })
  await app.register(fastifyStatic, { root: fileURLToPath(new URL('./public/', import.meta.url)) })
  // The page imports `fastify-agent-events/client` from here, through its import map.
  serveClientModules(app)

  const authenticate = async (req: FastifyRequest): Promise<void> => {
    await req.jwtVerify()
  }
  const userOf = (req: FastifyRequest): string => (req.user as { sub: string }).sub

  app.post<{ Body: { username: string } }>('/login', {
    schema: {
      tags: ['demo'],
      summary: 'Demo login: a short-lived token for any user name (a real app has its own login).',
      body: LoginBody,
      response: { 200: LoginReply },
    },
  }, async (req) => {
    const token = app.jwt.sign({ sub: req.body.username }, { expiresIn: TOKEN_TTL_SECONDS })
    return { token, expiresAt: new Date(Date.now() + TOKEN_TTL_SECONDS * 1000).toISOString() }
  })

  app.post<{ Body: { scenario?: Scenario; stepMs?: number; tokenMs?: number } }>('/workflows', {
    onRequest: authenticate,
    schema: {
      tags: ['workflows'],
      summary: 'Start a simulated agent run; follow it with `agent:subscribe`.',
      security: [{ bearer: [] }],
      body: StartRunBody,
      response: { 202: StartRunReply, 429: Problem },
    },
  }, async (req, reply) => {
    if (activeRuns.size >= LIMITS.activeRuns) {
      return reply.code(429).send({ statusCode: 429, error: 'Too Many Requests', message: 'Too many runs at once; try again shortly.' })
    }
    const workflowId = `wf-${randomUUID()}`
    const scenario = req.body?.scenario ?? 'success'
    rememberOwner(owners, workflowId, userOf(req))
    const run = playRun(app.agentEvents, workflowId, {
      scenario,
      stepMs: req.body?.stepMs ?? DEFAULT_STEP_MS,
      tokenMs: req.body?.tokenMs ?? DEFAULT_TOKEN_MS,
      signal: shutdown.signal,
      ...(options.beforeStep === undefined ? {} : { beforeStep: options.beforeStep }),
      ...(options.beforeToken === undefined ? {} : { beforeToken: options.beforeToken }),
    })
      .catch((error: unknown) => app.log.error({ err: error, workflowId }, 'simulated run failed'))
      .finally(() => activeRuns.delete(run))
    activeRuns.add(run)
    return reply.code(202).send({ workflowId, scenario })
  })

  app.get<{ Params: { id: string }; Querystring: { afterSeq?: number; limit?: number; compact?: boolean } }>('/workflows/:id/events', {
    onRequest: authenticate,
    schema: {
      tags: ['workflows'],
      summary: 'REST fallback: the recorded events of a run after `afterSeq`, from the replay buffer.',
      security: [{ bearer: [] }],
      params: WorkflowParams,
      querystring: EventsQuery,
      response: { 200: EventsPage, 404: Problem },
    },
  }, async (req, reply) => {
    // Someone else's run answers like an unknown one: its id says nothing about whether it exists.
    if (owners.get(req.params.id) !== userOf(req)) {
      return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: 'No such workflow' })
    }
    return app.agentEvents.history(req.params.id, {
      afterSeq: req.query.afterSeq ?? 0,
      limit: req.query.limit ?? 100,
      compact: req.query.compact ?? false,
    })
  })

  if (asyncapiDocument !== undefined) {
    app.get('/asyncapi.json', { schema: { hide: true } }, async () =>
      asyncapiDocument({ title: 'fastify-agent-events demo', version: '1.0.0', path: SOCKET_PATH }))
  }

  return app
}

/** Remember who started a run, forgetting the oldest beyond `LIMITS.knownRuns`. */
function rememberOwner(owners: Map<string, string>, workflowId: string, userId: string): void {
  owners.set(workflowId, userId)
  if (owners.size > LIMITS.knownRuns) {
    const oldest = owners.keys().next().value
    if (oldest !== undefined) owners.delete(oldest)
  }
}

/** Whether the schemas entry provides `asyncapiDocument` (the demo serves `/asyncapi.json` only then). */
export const servesAsyncApi: boolean = asyncapiDocument !== undefined
