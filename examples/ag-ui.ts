// An AG-UI agent endpoint: a POST route takes AG-UI's `RunAgentInput`, starts a run (simulated by
// the demo's scripted agent) and answers with the run's events as AG-UI events over SSE. Any AG-UI
// client (`@ag-ui/client`'s HttpAgent, CopilotKit…) can run it; a GET route resumes a run's stream
// after a dropped connection, with `Last-Event-ID`.
//
//   npx tsx examples/ag-ui.ts            on port 3003 (PORT overrides it), then, in another terminal:
//   TOKEN=$(curl -s -X POST localhost:3003/token -H 'content-type: application/json' -d '{"userId":"alice"}' | jq -r .token)
//   curl -N -X POST localhost:3003/agent -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
//        -d '{"threadId":"t-1","runId":"r-1","messages":[],"tools":[],"context":[],"state":{},"forwardedProps":{}}'
//   curl -N 'localhost:3003/agent/runs/r-1/events?threadId=t-1' -H "authorization: Bearer $TOKEN" -H 'last-event-id: 12'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import agentEvents from 'fastify-agent-events'
import { playRun, SCENARIOS, type RunOptions, type Scenario } from './demo/agent-run.ts'
import { EXAMPLE_PORTS, listenPort } from './port.ts'

export interface AgUiAppOptions {
  secret: string
  logger?: boolean
  /** Pause between two steps of a run, and before each token of a streamed message (ms). */
  stepMs?: number
  tokenMs?: number
  /** Awaited before each token of a streamed message: lets a test hold a message half-written. */
  beforeToken?: RunOptions['beforeToken']
}

/** The part of AG-UI's `RunAgentInput` this route reads; the rest (messages, tools…) a real agent would. */
interface RunAgentInput {
  threadId: string
  runId: string
  forwardedProps?: { scenario?: Scenario }
}

const RUN_ID = { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,100}$' } as const

export async function buildAgUiApp(options: AgUiAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  await app.register(fastifyJwt, { secret: options.secret })
  await app.register(agentEvents, {
    // A run's workflow id starts with the id of the user who started it: only they may follow it.
    authorize: ({ userId, workflowId }) => workflowId.startsWith(`${userId}-`),
  })
  const runs = new AbortController()
  app.addHook('preClose', async () => runs.abort())
  const workflowOf = (userId: string, runId: string): string => `${userId}-${runId}`

  // Demo only: issues a short-lived token for any user name. A real app has its own login.
  app.post<{ Body: { userId: string } }>('/token', {
    schema: {
      body: { type: 'object', required: ['userId'], properties: { userId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,27}$' } } },
    },
  }, async (req) => ({ token: app.jwt.sign({ sub: req.body.userId }, { expiresIn: '15m' }) }))

  // The AG-UI endpoint: start the run, then answer with its events. The stream waits for the run's
  // first event, so the route need not wait for anything itself.
  app.post<{ Body: RunAgentInput }>('/agent', {
    onRequest: (req) => req.jwtVerify(),
    schema: {
      body: {
        type: 'object',
        required: ['threadId', 'runId'],
        properties: {
          threadId: { type: 'string', minLength: 1 },
          runId: RUN_ID,
          forwardedProps: { type: 'object', properties: { scenario: { enum: SCENARIOS } } },
        },
      },
    },
  }, async (req, reply) => {
    const { threadId, runId, forwardedProps } = req.body
    const workflowId = workflowOf((req.user as { sub: string }).sub, runId)
    void playRun(app.agentEvents, workflowId, {
      scenario: forwardedProps?.scenario ?? 'success',
      stepMs: options.stepMs ?? 450,
      tokenMs: options.tokenMs ?? 30,
      signal: runs.signal,
      ...(options.beforeToken === undefined ? {} : { beforeToken: options.beforeToken }),
    }).catch((error: unknown) => app.log.error({ err: error, workflowId }, 'run failed'))
    return reply.agUi(workflowId, { threadId, runId })
  })

  // Resume a run's stream where a dropped connection left it (`Last-Event-ID`), or read it again.
  app.get<{ Params: { runId: string }; Querystring: { threadId: string } }>('/agent/runs/:runId/events', {
    onRequest: (req) => req.jwtVerify(),
    schema: {
      params: { type: 'object', required: ['runId'], properties: { runId: RUN_ID } },
      querystring: { type: 'object', required: ['threadId'], properties: { threadId: { type: 'string', minLength: 1 } } },
    },
  }, async (req, reply) => {
    const { runId } = req.params
    const workflowId = workflowOf((req.user as { sub: string }).sub, runId)
    return reply.agUi(workflowId, { threadId: req.query.threadId, runId, resume: true })
  })

  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildAgUiApp({ secret: process.env.JWT_SECRET ?? 'change-me-in-production-please-32b' })
  const address = await app.listen({ port: listenPort(EXAMPLE_PORTS.agUi), host: '127.0.0.1' })
  app.log.info(`fastify-agent-events AG-UI example on ${address} (POST /agent)`)
}
