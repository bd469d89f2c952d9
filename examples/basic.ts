// The smallest useful app: a REST route whose body and response use the shared schemas, and
// which streams the result to the workflow's subscribers.
//
//   npx tsx examples/basic.ts            on port 3002 (PORT overrides it), then, in another terminal:
//   curl -s -X POST localhost:3002/token -H 'content-type: application/json' -d '{"userId":"alice"}'
//   curl -s -X POST localhost:3002/workflows/alice-1/result -H "authorization: Bearer $TOKEN" \
//        -H 'content-type: application/json' -d '{"status":"success","content":"42"}'
//   curl -s 'localhost:3002/workflows/alice-1/events?afterSeq=0' -H "authorization: Bearer $TOKEN"
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import agentEvents from 'fastify-agent-events'
import Type from 'typebox'
import { AgentEvent, AgentResultEvent, ResultData, WorkflowId } from 'fastify-agent-events/schemas'
import { EXAMPLE_PORTS, listenPort } from './port.ts'

export async function buildBasicApp(options: { secret: string; logger?: boolean }): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  await app.register(fastifyJwt, { secret: options.secret })
  await app.register(agentEvents, {
    path: '/ws',
    // Here the user who starts a workflow is its only follower; a real app asks its database.
    authorize: ({ userId, workflowId }) => workflowId.startsWith(`${userId}-`),
  })

  // Demo only: issues a short-lived token for any user name. A real app has its own login.
  app.post<{ Body: { userId: string } }>('/token', {
    schema: {
      body: {
        type: 'object',
        required: ['userId'],
        properties: { userId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
      },
    },
  }, async (req) => ({ token: app.jwt.sign({ sub: req.body.userId }, { expiresIn: '15m' }) }))

  app.post<{ Params: { id: string }; Body: ResultData }>('/workflows/:id/result', {
    onRequest: (req) => req.jwtVerify(),
    schema: {
      params: { type: 'object', required: ['id'], properties: { id: WorkflowId } },
      body: ResultData,
      response: { 200: AgentResultEvent },
    },
  }, async (req, reply) => {
    if (!req.params.id.startsWith(`${(req.user as { sub: string }).sub}-`)) return reply.code(403).send()
    return app.agentEvents.emitResult(req.params.id, req.body)
  })

  // The fallback for clients that cannot hold a socket: poll with the last seq seen.
  app.get<{ Params: { id: string }; Querystring: { afterSeq?: number; limit?: number } }>('/workflows/:id/events', {
    onRequest: (req) => req.jwtVerify(),
    schema: {
      params: Type.Object({ id: WorkflowId }),
      querystring: Type.Object({
        afterSeq: Type.Optional(Type.Integer({ minimum: 0 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      }),
      response: {
        200: Type.Object({
          events: Type.Array(AgentEvent),
          lastSeq: Type.Integer({ minimum: 0 }),
          truncated: Type.Boolean(),
        }),
      },
    },
  }, async (req, reply) => {
    if (!req.params.id.startsWith(`${(req.user as { sub: string }).sub}-`)) return reply.code(403).send()
    return app.agentEvents.history(req.params.id, { afterSeq: req.query.afterSeq ?? 0, limit: req.query.limit ?? 100 })
  })

  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildBasicApp({ secret: process.env.JWT_SECRET ?? 'change-me-in-production-please-32b' })
  const address = await app.listen({ port: listenPort(EXAMPLE_PORTS.basic), host: '127.0.0.1' })
  app.log.info(`fastify-agent-events basic example on ${address} (Socket.IO path /ws)`)
}
