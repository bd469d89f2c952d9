// An endpoint for the AI SDK's `useChat`: `POST /api/chat` starts an agent run (simulated here)
// and answers with its UI message stream; `GET /api/chat/:id/stream` is the resume route that
// `useChat({ resume: true })` calls after a reload. Both read the run from the replay buffer, so a
// stream resumes even after its run has finished, or from another node with the Redis store.
//
//   npx tsx examples/use-chat.ts          on port 3005 (PORT overrides it), then, in another terminal:
//   TOKEN=$(curl -s -X POST localhost:3005/token -H 'content-type: application/json' -d '{"userId":"alice"}' | jq -r .token)
//   curl -N -X POST localhost:3005/api/chat -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
//        -d '{"id":"chat-1","messages":[{"id":"m1","role":"user","parts":[{"type":"text","text":"Refund order 4812"}]}]}'
//   curl -N localhost:3005/api/chat/chat-1/stream -H "authorization: Bearer $TOKEN"
//
// In the browser, `useChat` takes the token through its transport:
//   useChat({ id, resume: true, transport: new DefaultChatTransport({ api: '/api/chat', headers: () => ({ authorization: `Bearer ${token}` }) }) })
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import agentEvents from 'fastify-agent-events'
import { DEFAULT_STEP_MS, DEFAULT_TOKEN_MS, playRun, type Scenario } from './demo/agent-run.ts'
import { EXAMPLE_PORTS, listenPort } from './port.ts'

export interface UseChatAppOptions {
  secret: string
  logger?: boolean
  /** Pause between two steps of a run, and before each token of its text (the demo's pace by default). */
  stepMs?: number
  tokenMs?: number
}

/** What `useChat`'s transport posts: the chat's id and its messages (only the text of the last one is read here). */
interface ChatRequestBody {
  id: string
  messages: { role: string; parts: { type: string; text?: string }[] }[]
}

/** A chat and its latest run. A real app keeps this in its database. */
interface Chat {
  userId: string
  workflowId: string
}

const CHAT_ID = '^[A-Za-z0-9_-]{1,64}$'

/** The simulated agent fails when asked for an invoice (the billing system is down), and succeeds otherwise. */
function scenarioFor(body: ChatRequestBody): Scenario {
  const last = body.messages.at(-1)
  const text = last?.parts.map((part) => part.text ?? '').join(' ') ?? ''
  return /invoice/i.test(text) ? 'failure' : 'success'
}

export async function buildUseChatApp(options: UseChatAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  await app.register(fastifyJwt, { secret: options.secret })

  const chats = new Map<string, Chat>()
  const runOwners = new Map<string, string>()
  await app.register(agentEvents, {
    // A run is followed by the user who started it only.
    authorize: ({ userId, workflowId }) => runOwners.get(workflowId) === userId,
  })

  // Runs still going when the server closes stop (their open message ends with agent:error).
  const closing = new AbortController()
  app.addHook('preClose', async () => closing.abort())

  const userIdOf = (request: FastifyRequest): string => (request.user as { sub: string }).sub

  // Demo only: issues a short-lived token for any user name. A real app has its own login.
  app.post<{ Body: { userId: string } }>('/token', {
    schema: {
      body: { type: 'object', required: ['userId'], properties: { userId: { type: 'string', pattern: CHAT_ID } } },
    },
  }, async (request) => ({ token: app.jwt.sign({ sub: request.body.userId }, { expiresIn: '15m' }) }))

  app.post<{ Body: ChatRequestBody }>('/api/chat', {
    onRequest: (request) => request.jwtVerify(),
    schema: {
      body: {
        type: 'object',
        required: ['id', 'messages'],
        properties: {
          id: { type: 'string', pattern: CHAT_ID },
          messages: { type: 'array', minItems: 1, items: { type: 'object', required: ['role', 'parts'], properties: { role: { type: 'string' }, parts: { type: 'array' } } } },
        },
      },
    },
  }, async (request, reply) => {
    const userId = userIdOf(request)
    const chat = chats.get(request.body.id)
    if (chat !== undefined && chat.userId !== userId) return reply.code(403).send({ message: 'Not your chat' })
    // One workflow per run: the chat's id, then the run's own.
    const workflowId = `${request.body.id}.${randomUUID()}`
    runOwners.set(workflowId, userId)
    chats.set(request.body.id, { userId, workflowId })
    playRun(app.agentEvents, workflowId, {
      scenario: scenarioFor(request.body),
      stepMs: options.stepMs ?? DEFAULT_STEP_MS,
      tokenMs: options.tokenMs ?? DEFAULT_TOKEN_MS,
      signal: closing.signal,
    }).catch((error: unknown) => request.log.error({ err: error, workflowId }, 'agent run failed'))
    // The stream waits for the run's first event, and ends after its result or error.
    return reply.uiMessageStream(workflowId)
  })

  // The resume route: 204 when there is nothing to resume, else the latest run's stream from its
  // start (what `useChat` expects of a resume), or after `Last-Event-ID` when the client sends it.
  app.get<{ Params: { id: string } }>('/api/chat/:id/stream', {
    onRequest: (request) => request.jwtVerify(),
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: CHAT_ID } } } },
  }, async (request, reply) => {
    const chat = chats.get(request.params.id)
    if (chat === undefined) return reply.code(204).send()
    return reply.uiMessageStream(chat.workflowId, { resume: true })
  })

  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const app = await buildUseChatApp({ secret: process.env.JWT_SECRET ?? 'change-me-in-production-please-32b' })
  const address = await app.listen({ port: listenPort(EXAMPLE_PORTS.useChat), host: '127.0.0.1' })
  app.log.info(`fastify-agent-events useChat example on ${address} (POST /api/chat, GET /api/chat/:id/stream)`)
}
