import { DiagnosticSeverity, Parser } from '@asyncapi/parser'
import t from 'tap'
import {
  AgentThoughtEvent,
  CLIENT_ERROR_CODES,
  HANDSHAKE_ERROR_CODES,
  SubscribeAck,
  asyncapiDocument,
} from '../src/schemas/index.ts'

const SERVER_TO_CLIENT = ['agent:thought', 'agent:tool_call', 'agent:result', 'agent:error', 'agent:delta', 'auth:expired', 'server:shutdown']
const CLIENT_TO_SERVER = ['agent:subscribe', 'agent:unsubscribe', 'auth:refresh']

const document = asyncapiDocument({
  title: 'Agent events',
  version: '2.1.0',
  path: '/ws',
  servers: { local: { host: '127.0.0.1:3000', protocol: 'ws', description: 'The demo' } },
})

t.test('@asyncapi/parser parses the document with zero error diagnostics', async (t) => {
  const { document: parsed, diagnostics } = await new Parser().parse(JSON.stringify(document))
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error)
  t.same(errors.map((error) => `${error.code}: ${error.message} at ${error.path.join('/')}`), [])
  t.ok(parsed, 'a parsed document')
  t.comment(`AsyncAPI diagnostics: ${errors.length} errors, ${diagnostics.length} in all ` +
    `(${diagnostics.map((diagnostic) => diagnostic.code).join(', ') || 'none'})`)
  if (parsed === undefined) return

  t.equal(parsed.version(), '3.0.0')
  t.equal(parsed.info().title(), 'Agent events')
  t.equal(parsed.info().version(), '2.1.0')
  const server = parsed.servers().get('local')
  t.equal(server?.pathname(), '/ws', 'the Socket.IO path')
  t.equal(server?.protocol(), 'ws')
  t.same(server?.security().map((requirements) => requirements.all().map((r) => r.scheme().type())), [['http']])

  const sent = parsed.operations().filterBySend().flatMap((operation) => operation.messages().all().map((m) => m.name()))
  const received = parsed.operations().filterByReceive()
  t.same(new Set(sent), new Set([...SERVER_TO_CLIENT, 'connect_error']), 'every server-to-client event, and connect_error')
  t.same(
    new Set(received.flatMap((operation) => operation.messages().all().map((m) => m.name()))),
    new Set(CLIENT_TO_SERVER),
    'every client-to-server request',
  )
  for (const operation of received) {
    const reply = operation.reply()
    t.ok(reply, `${operation.id()} has a reply`)
    t.equal(reply?.messages().all()[0]?.name(), operation.messages().all()[0]?.name(), 'the ack answers its request')
  }
})

t.test('the document is built from the package schemas themselves', async (t) => {
  const { schemas, messages } = document.components
  t.same(schemas.AgentThoughtEvent, JSON.parse(JSON.stringify(AgentThoughtEvent)))
  t.same(schemas.AgentSubscribeAck, JSON.parse(JSON.stringify(SubscribeAck)))
  t.same(messages.agentThought?.payload, { $ref: '#/components/schemas/AgentThoughtEvent' })
  t.same(messages.agentThought?.examples, ((AgentThoughtEvent as { examples?: unknown[] }).examples ?? []).map((payload) => ({ name: 'agent-thought', payload })))
  const text = JSON.stringify(document)
  for (const code of [...CLIENT_ERROR_CODES, ...HANDSHAKE_ERROR_CODES]) t.ok(text.includes(`"${code}"`), `${code} is documented`)
})

t.test('defaults: no servers, path /socket.io, namespace /', async (t) => {
  const plain = asyncapiDocument()
  t.equal(plain.info.title, 'fastify-agent-events')
  t.equal(plain.servers, undefined)
  t.equal(plain.channels.agentEvents?.address, '/')
  t.equal(asyncapiDocument({ namespace: '/agents' }).channels.agentEvents?.address, '/agents')
  const withServer = asyncapiDocument({ servers: { prod: { host: 'api.example.com' } } })
  t.match(withServer.servers?.prod, { host: 'api.example.com', protocol: 'wss', pathname: '/socket.io' })
  const { diagnostics } = await new Parser().parse(JSON.stringify(plain))
  t.equal(diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error).length, 0, 'valid without servers too')
})

t.test('each call returns a fresh document that the caller may change', async (t) => {
  const first = asyncapiDocument()
  first.components.schemas.AgentThoughtEvent!.description = 'changed'
  t.not(asyncapiDocument().components.schemas.AgentThoughtEvent?.description, 'changed')
  t.not((AgentThoughtEvent as { description?: string }).description, 'changed')
})
