import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { io as ioClient } from 'socket.io-client'
import { DiagnosticSeverity, Parser } from '@asyncapi/parser'
import { EMIT_ROUTES, buildOpenApiApp } from '../examples/openapi.ts'
import { EXAMPLE_PORTS } from '../examples/port.ts'
import type { AgentEventType } from '../src/index.ts'
import * as schemas from '../src/schemas/index.ts'

const SECRET = 'test-secret-that-is-long-enough-for-hs256'
const WORKFLOW = 'alice-wf1'

interface OpenApiDocument {
  paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>
  components: { schemas: Record<string, Record<string, unknown>> }
}

t.test('the OpenAPI document holds the event schemas under their $ids', async (t) => {
  const app = await buildOpenApiApp({ secret: SECRET, logger: false })
  t.teardown(() => app.close())
  await app.ready()
  const document = app.swagger() as unknown as OpenApiDocument
  const components = document.components.schemas
  for (const schema of [
    schemas.AgentThoughtEvent, schemas.AgentToolCallEvent, schemas.AgentResultEvent, schemas.AgentErrorEvent,
    schemas.AgentEvent, schemas.ThoughtData, schemas.ToolCallData, schemas.ResultData, schemas.ErrorData,
  ]) {
    const id = (schema as unknown as { $id: string }).$id
    t.ok(components[id], `components.schemas.${id}`)
    t.equal(components[id]?.description, (schema as unknown as { description: string }).description, `${id} keeps its description`)
  }
  // Served by @fastify/swagger-ui as well, the same document.
  const served = await app.inject('/docs/json')
  t.equal(served.statusCode, 200)
  t.same(Object.keys((served.json() as OpenApiDocument).components.schemas).sort(), Object.keys(components).sort())
  t.equal((await app.inject('/docs')).statusCode, 200, 'the Swagger UI')
  // A route body is the schema itself, inlined: same properties, same required keys.
  const body = document.paths['/workflows/{id}/tool-calls']?.post?.requestBody?.content['application/json']?.schema
  t.same(body?.required, ['tool_name', 'status'])
  t.same(Object.keys(body?.properties as object), Object.keys((schemas.ToolCallData as { properties: object }).properties))
})

t.test('the demo serves its AsyncAPI document, valid for @asyncapi/parser', async (t) => {
  const app = await buildOpenApiApp({ secret: SECRET, logger: false, swaggerUi: false })
  t.teardown(() => app.close())
  const response = await app.inject({ url: '/asyncapi.json', headers: { host: 'agents.example.com' } })
  t.equal(response.statusCode, 200)
  const { diagnostics } = await new Parser().parse(response.body)
  t.equal(diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error).length, 0)
  t.match(response.json(), { asyncapi: '3.0.0', servers: { demo: { host: 'agents.example.com', pathname: '/ws' } } })
})

t.test('an event posted to a REST route reaches the socket subscriber, as the route answered it', async (t) => {
  const app = await buildOpenApiApp({ secret: SECRET, logger: false, swaggerUi: false })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const token = app.jwt.sign({ sub: 'alice' }, { expiresIn: '1h' })
  const socket = ioClient(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, {
    path: '/ws', auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true,
  })
  t.teardown(() => { socket.disconnect() })
  await once(socket as never, 'connect')
  t.match(await socket.timeout(5000).emitWithAck('agent:subscribe', { workflowId: WORKFLOW }), { ok: true })
  const received = once(socket as never, 'agent:tool_call')
  const response = await app.inject({
    method: 'POST',
    url: `/workflows/${WORKFLOW}/tool-calls`,
    headers: { authorization: `Bearer ${token}` },
    payload: { tool_name: 'search_orders', status: 'in_progress', progress: 0.5 },
  })
  t.equal(response.statusCode, 200)
  const [event] = await received
  t.same(event, response.json(), 'the socket event equals the REST response')
  t.match(event, { type: 'tool_call', workflowId: WORKFLOW, seq: 1, data: { tool_name: 'search_orders', progress: 0.5 } })
  const forbidden = await app.inject({
    method: 'POST', url: '/workflows/bob-wf/thoughts', headers: { authorization: `Bearer ${token}` }, payload: { content: 'x' },
  })
  t.equal(forbidden.statusCode, 403, "another user's workflow")
})

// Payloads as a JSON client sends them: right JSON types or not, complete or not, with extra keys.
const CORPUS: Record<AgentEventType, unknown[]> = {
  thought: [
    { content: 'thinking' }, { content: '' }, { content: 'x', extra: 1 }, {}, { contents: 'typo' },
    { content: 42 }, { content: null }, { content: true }, { content: ['a'] }, { content: { text: 'x' } }, [], 'text', 1,
  ],
  tool_call: [
    { tool_name: 'search', status: 'pending' }, { tool_name: 'search', status: 'completed', message: 'done', progress: 1 },
    { tool_name: '', status: 'pending' }, { tool_name: 'search', status: 'done' }, { tool_name: 'search' }, { status: 'failed' },
    { tool_name: 'search', status: 'pending', message: 5 }, { tool_name: 7, status: 'pending' }, { tool_name: 'search', status: ['pending'] },
    { tool_name: 'search', status: 'pending', message: null },
  ],
  result: [
    {}, { status: 'success', content_type: 'text/plain', content: 'ok' }, { content: { nested: [1, 2] } }, { anything: true },
    { status: 1 }, { content_type: false }, { status: null }, [1], 'ok', 3,
  ],
  error: [
    { code: 'TOOL_TIMEOUT', message: 'late' }, { code: 'X', message: '', details: [1] }, { code: '', message: 'x' },
    { code: 'X' }, { message: 'x' }, { code: 'X', message: 'x', extra: 1 }, { code: 404, message: 'x' }, { code: 'X', message: false },
    { code: null, message: 'x' },
  ],
  delta: [
    { messageId: 'm-1', kind: 'result', text: 'Hel' }, { messageId: 'm-1', kind: 'thought', text: '' },
    { messageId: 'm 1', kind: 'result', text: 'x' }, { messageId: 'm-1', kind: 'tool_call', text: 'x' },
    { messageId: 'm-1', kind: 'result' }, { messageId: 'm-1', kind: 'result', text: 'x', extra: 1 }, { kind: 'result', text: 'x' },
    { messageId: 'm-1', kind: 'result', text: 5 },
  ],
}

type Verdict = 'accepted' | 'refused' | 'accepted by the route, refused by the emitter'

async function verdicts(coerceTypes: boolean | 'array'): Promise<Record<string, { rest: Verdict; emitter: Verdict }>> {
  const app = await buildOpenApiApp({
    secret: SECRET, logger: false, swaggerUi: false, fastify: { ajv: { customOptions: { coerceTypes } } },
  })
  try {
    const authorization = `Bearer ${app.jwt.sign({ sub: 'alice' }, { expiresIn: '1h' })}`
    const results: Record<string, { rest: Verdict; emitter: Verdict }> = {}
    for (const [type, payloads] of Object.entries(CORPUS) as [AgentEventType, unknown[]][]) {
      for (const payload of payloads) {
        const response = await app.inject({
          method: 'POST',
          url: `/workflows/${WORKFLOW}/${EMIT_ROUTES[type].url}`,
          headers: { authorization, 'content-type': 'application/json' },
          payload: JSON.stringify(payload),
        })
        const code = (response.json() as { code?: string }).code
        const rest: Verdict = response.statusCode === 200 ? 'accepted'
          : code === 'FST_ERR_VALIDATION' ? 'refused'
          : code === 'FST_AGENT_EVENTS_INVALID_EVENT' ? 'accepted by the route, refused by the emitter'
          : (() => { throw new Error(`unexpected ${response.statusCode} ${response.body}`) })()
        const emitter: Verdict = await app.agentEvents
          .emit({ type, workflowId: WORKFLOW, data: structuredClone(payload) } as Parameters<typeof app.agentEvents.emit>[0])
          .then(() => 'accepted' as const, (error: { code?: string }) => {
            if (error.code !== 'FST_AGENT_EVENTS_INVALID_EVENT') throw error
            return 'refused' as const
          })
        results[`${type} ${JSON.stringify(payload)}`] = { rest, emitter }
      }
    }
    return results
  } finally {
    await app.close()
  }
}

t.test('a REST route and the emitter give the same verdict on the same payload (Ajv without coercion)', async (t) => {
  const results = await verdicts(false)
  for (const [payload, { rest, emitter }] of Object.entries(results)) t.equal(rest, emitter, payload)
  const accepted = Object.values(results).filter(({ rest }) => rest === 'accepted').length
  t.ok(accepted > 5 && accepted < Object.keys(results).length - 5, `${accepted} accepted, the others refused`)
})

t.test("with Fastify's default Ajv (coerceTypes: 'array'), a route never accepts what the emitter then refuses", async (t) => {
  const results = await verdicts('array')
  for (const [payload, { rest, emitter }] of Object.entries(results)) {
    t.not(rest, 'accepted by the route, refused by the emitter', payload)
    // Where the JSON types are right, the verdicts are the same; scalars of another type are
    // coerced by Ajv (42 becomes "42", null becomes "") and accepted by the route only.
    if (rest !== emitter) t.match(payload, /: ?(\d+|null|true|false)[,}]|\["pending"\]|\["a"\]/, `coerced scalar: ${payload}`)
  }
  t.not(results['thought {"content":42}']?.rest, results['thought {"content":42}']?.emitter, 'coercion shows here')
})

const LISTENING = /OpenAPI UI on (http:\/\/127\.0\.0\.1:\d+)\/docs/

/** `npx tsx examples/openapi.ts` with `PORT`, as a user runs it; ended when the test ends. */
function runExample(t: Test, port: string): { listening: Promise<string>; exited: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/openapi.ts'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, NODE_OPTIONS: '', PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  const listening = new Promise<string>((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        const url = LISTENING.exec(output)?.[1]
        if (url !== undefined) resolve(url)
      })
    }
    void exited.then(() => reject(new Error(`the example exited before listening:\n${output}`)))
  })
  listening.catch(() => {})
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await exited
  })
  return { listening, exited, output: () => output }
}

t.test('examples/openapi.ts listens on PORT, by default on a port of its own beside the demo', async (t) => {
  t.same(EXAMPLE_PORTS, { demo: 3000, openapi: 3001, basic: 3002, agUi: 3003, useChat: 3005 }, 'the defaults the README gives')
  t.equal(new Set(Object.values(EXAMPLE_PORTS)).size, 5, 'no two share a default port')

  const url = await runExample(t, '0').listening
  t.not(new URL(url).port, '0', 'PORT=0 took a free port')
  const document = (await (await fetch(`${url}/docs/json`)).json()) as OpenApiDocument
  t.ok(document.components.schemas.AgentThoughtEvent, 'it serves its OpenAPI document there')

  const refused = runExample(t, 'eighty')
  t.not(await refused.exited, 0, 'a PORT that is not a port is refused')
  t.match(refused.output(), /PORT must be an integer from 0 to 65535/)
})
