// One set of schemas for REST, Socket.IO and the docs: REST routes whose bodies and responses are
// the package's TypeBox schemas, an OpenAPI document of them (@fastify/swagger, browsable with
// @fastify/swagger-ui at /docs), and the AsyncAPI document of the Socket.IO protocol.
//
//   npx tsx examples/openapi.ts                on http://127.0.0.1:3001 (PORT overrides it; the demo has 3000)
//   open http://127.0.0.1:3001/docs            the REST API, with the event schemas by $id
//   curl http://127.0.0.1:3001/asyncapi.json   the Socket.IO protocol (AsyncAPI 3.0)
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import Type, { type TSchema } from 'typebox'
import agentEvents, { type AgentEventType } from 'fastify-agent-events'
import {
  AgentDeltaEvent,
  AgentErrorEvent,
  AgentEvent,
  AgentResultEvent,
  AgentThoughtEvent,
  AgentToolCallEvent,
  DeltaData,
  ErrorData,
  ResultData,
  ThoughtData,
  ToolCallData,
  WorkflowId,
  asyncapiDocument,
} from 'fastify-agent-events/schemas'
import { EXAMPLE_PORTS, listenPort } from './port.ts'

export interface OpenApiAppOptions {
  secret: string
  logger?: boolean
  /** Passed to Fastify, e.g. `ajv: { customOptions: { coerceTypes: false } }`. */
  fastify?: Omit<FastifyServerOptions, 'logger'>
  /** Serve the Swagger UI at /docs. Default true. */
  swaggerUi?: boolean
}

/** One REST route per event type: the body is the event's `data`, the response the event as sent. */
export const EMIT_ROUTES = {
  thought: { url: 'thoughts', body: ThoughtData, response: AgentThoughtEvent },
  tool_call: { url: 'tool-calls', body: ToolCallData, response: AgentToolCallEvent },
  result: { url: 'result', body: ResultData, response: AgentResultEvent },
  error: { url: 'errors', body: ErrorData, response: AgentErrorEvent },
  // For a process that relays a message streamed elsewhere; in-process code uses `stream()`.
  delta: { url: 'deltas', body: DeltaData, response: AgentDeltaEvent },
} as const satisfies Record<AgentEventType, { url: string; body: TSchema; response: TSchema }>

const WorkflowParams = Type.Object({ id: WorkflowId })

const HistoryQuery = Type.Object({
  afterSeq: Type.Optional(Type.Integer({ minimum: 0, description: 'Events with a greater `seq`.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'At most this many.' })),
})

const HistoryPage = Type.Object(
  {
    events: Type.Array(AgentEvent, { description: 'Recorded events, the oldest first.' }),
    lastSeq: Type.Integer({ minimum: 0, description: 'Highest `seq` of the workflow.' }),
    truncated: Type.Boolean({ description: 'Events after `afterSeq` had already left the buffer.' }),
  },
  { description: 'A page of the replay buffer.' },
)

export async function buildOpenApiApp(options: OpenApiAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ ...options.fastify, logger: options.logger ?? true })
  await app.register(fastifyJwt, { secret: options.secret })
  await app.register(agentEvents, {
    path: '/ws',
    // Here the user who starts a workflow is its only follower; a real app asks its database.
    authorize: ({ userId, workflowId }) => workflowId.startsWith(`${userId}-`),
  })

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Agent events REST API', version: '1.0.0' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
    // Name each component after its schema's `$id` (the default is `def-0`, `def-1`…), so the
    // document speaks of `AgentThoughtEvent` as the code and the AsyncAPI document do.
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`),
    },
  })
  if (options.swaggerUi ?? true) await app.register(fastifySwaggerUi, { routePrefix: '/docs' })

  // Demo only: issues a short-lived token for any user name. A real app has its own login.
  app.post<{ Body: { userId: string } }>('/token', {
    schema: {
      hide: true,
      body: Type.Object({ userId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }),
    },
  }, async (req) => ({ token: app.jwt.sign({ sub: req.body.userId }, { expiresIn: '15m' }) }))

  // The same rule as `authorize` above, for REST: users act on their own workflows only.
  const ownWorkflowsOnly = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const { sub } = req.user as { sub: string }
    if (!req.params.id.startsWith(`${sub}-`)) return reply.code(403).send({ message: 'Not your workflow' })
  }

  for (const [type, route] of Object.entries(EMIT_ROUTES) as [AgentEventType, (typeof EMIT_ROUTES)[AgentEventType]][]) {
    app.post<{ Params: { id: string }; Body: Record<string, unknown> }>(`/workflows/:id/${route.url}`, {
      onRequest: (req) => req.jwtVerify(),
      preHandler: ownWorkflowsOnly,
      schema: {
        summary: `Emit a ${type} event to the workflow's subscribers`,
        security: [{ bearerAuth: [] }],
        params: WorkflowParams,
        body: route.body,
        response: { 200: route.response },
      },
    }, async (req) => app.agentEvents.emit({ type, workflowId: req.params.id, data: req.body } as Parameters<typeof app.agentEvents.emit>[0]))
  }

  app.get<{ Params: { id: string }; Querystring: { afterSeq?: number; limit?: number } }>('/workflows/:id/events', {
    onRequest: (req) => req.jwtVerify(),
    preHandler: ownWorkflowsOnly,
    schema: {
      summary: 'Read the replay buffer of a workflow (a fallback for clients without a socket)',
      security: [{ bearerAuth: [] }],
      params: WorkflowParams,
      querystring: HistoryQuery,
      response: { 200: HistoryPage },
    },
  }, async (req) => app.agentEvents.history(req.params.id, req.query))

  app.get('/asyncapi.json', { schema: { hide: true } }, async (req) =>
    asyncapiDocument({
      title: 'Agent events',
      version: '1.0.0',
      path: '/ws',
      servers: { demo: { host: req.host, protocol: 'ws', description: 'This demo server' } },
    }),
  )

  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildOpenApiApp({ secret: process.env.JWT_SECRET ?? 'change-me-in-production-please-32b' })
  const address = await app.listen({ port: listenPort(EXAMPLE_PORTS.openapi), host: '127.0.0.1' })
  app.log.info(`OpenAPI UI on ${address}/docs, AsyncAPI document on ${address}/asyncapi.json`)
}
