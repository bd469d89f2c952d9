// One rule for which call a `tool_call` update belongs to, on both bridges: the same recorded
// events read as AG-UI and as the UI message stream name the same calls, each started once.
import type { BaseEvent } from '@ag-ui/core'
import t, { type Test } from 'tap'
import { agUiEvents, verified } from './ag-ui-events.ts'
import { startServer, type TestServer } from './helpers.ts'
import { parseSse, readBytes, sseRequest, type SseRead } from './sse-client.ts'
import { parseUiMessageSse, readMessage, sseBody, type AgentUIMessage } from './ui-message-chunks.ts'

const WORKFLOW = 'wf-calls-1'

async function bridgeServer(t: Test): Promise<TestServer> {
  return startServer(t, { rateLimit: false }, {
    before(app) {
      app.get<{ Params: { id: string } }>('/ag-ui/:id', { onRequest: (req) => req.jwtVerify() }, async (req, reply) => reply.agUi(req.params.id))
      app.get<{ Params: { id: string } }>('/ui/:id', { onRequest: (req) => req.jwtVerify() }, async (req, reply) => reply.uiMessageStream(req.params.id))
    },
  })
}

async function readRoute(server: TestServer, path: string): Promise<SseRead> {
  const read: SseRead = { messages: [], comments: [] }
  const response = await sseRequest(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.token('alice')}` } })
  parseSse((await readBytes(response)).toString('utf8'), read)
  return read
}

type AgUiToolEvent = BaseEvent & { toolCallId?: string; content?: string }

function callsOf(message: AgentUIMessage | undefined): unknown[] {
  return (message?.parts ?? []).flatMap((part) => (part.type === 'dynamic-tool' ? [[part.toolCallId, part.state, part.input, part.output ?? part.errorText]] : []))
}

t.test('both bridges: pending opens a call, other updates go to the oldest open call of the name, an id is one call for the whole run', async (t) => {
  const server = await bridgeServer(t)
  const { agentEvents } = server.app
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'pending', input: { q: 'a' } }) // seq 1: call-1
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'pending', input: { q: 'b' } }) // seq 2: call-2, a call of its own
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'in_progress' }) // call-1, the oldest open
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'completed', output: 'A' }) // call-1 ends
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'failed', message: 'B failed' }) // call-2 ends
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'lookup', status: 'completed', output: 'C' }) // seq 6: none open, call-6
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'fetch', status: 'pending', tool_call_id: 'f-1', input: { url: '/x' } })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'fetch', status: 'completed', tool_call_id: 'f-1', output: 'page' })
  // A late update of a call that has ended: the same call, and its result stands.
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'fetch', status: 'completed', tool_call_id: 'f-1', output: 'page, again' })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'fetch', status: 'in_progress', tool_call_id: 'f-1', input: { url: '/y' } })
  await agentEvents.emitResult(WORKFLOW, { status: 'success', content_type: 'text/plain', content: 'done' })

  const events = agUiEvents(t, (await readRoute(server, `/ag-ui/${WORKFLOW}`)).messages) as AgUiToolEvent[]
  await verified(events)
  const of = (type: string) => events.filter((event) => event.type === type)
  t.same(of('TOOL_CALL_START').map((event) => event.toolCallId), ['call-1', 'call-2', 'call-6', 'f-1'], 'AG-UI: each call started once')
  t.same(of('TOOL_CALL_END').map((event) => event.toolCallId), ['call-1', 'call-2', 'call-6', 'f-1'], 'AG-UI: each call\'s arguments ended once')
  t.same(of('TOOL_CALL_RESULT').map((event) => [event.toolCallId, event.content]), [
    ['call-1', 'A'],
    ['call-2', JSON.stringify({ error: 'B failed' })],
    ['call-6', 'C'],
    ['f-1', 'page'],
  ], 'AG-UI: one result per call, the first')

  const read = await readRoute(server, `/ui/${WORKFLOW}`)
  const { message, errors } = await readMessage(parseUiMessageSse(sseBody(read.messages.map((m) => `data: ${m.data}\n\n`).join(''))))
  t.same(errors, [])
  t.same(callsOf(message), [
    ['call-1', 'output-available', { q: 'a' }, 'A'],
    ['call-2', 'output-error', { q: 'b' }, 'B failed'],
    ['call-6', 'output-available', {}, 'C'],
    ['f-1', 'output-available', { url: '/x' }, 'page'],
  ], 'UI message stream: the same calls, the same results')
  const chunks = read.messages.map((m) => (m.data === '[DONE]' ? { type: '[DONE]' } : JSON.parse(m.data) as { type: string; toolCallId?: string }))
  t.equal(chunks.filter((chunk) => chunk.toolCallId === 'f-1').length, 2, 'UI message stream: nothing for the updates after f-1 ended')
})

t.test('both bridges: updates of a name with no pending go to one call, opened by the first of them', async (t) => {
  const server = await bridgeServer(t)
  const { agentEvents } = server.app
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'search', status: 'in_progress', input: { q: 'x' } }) // seq 1: call-1
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'search', status: 'in_progress', output: { found: 1 } })
  await agentEvents.emitToolCall(WORKFLOW, { tool_name: 'search', status: 'completed', output: { found: 2 } })
  await agentEvents.emitError(WORKFLOW, { code: 'STOPPED', message: 'stopped' })

  const events = agUiEvents(t, (await readRoute(server, `/ag-ui/${WORKFLOW}`)).messages) as AgUiToolEvent[]
  await verified(events)
  t.same(events.filter((event) => event.type.startsWith('TOOL_CALL_')).map((event) => [event.type, event.toolCallId]), [
    ['TOOL_CALL_START', 'call-1'],
    ['TOOL_CALL_ARGS', 'call-1'],
    ['TOOL_CALL_END', 'call-1'],
    ['TOOL_CALL_RESULT', 'call-1'],
  ])
  const read = await readRoute(server, `/ui/${WORKFLOW}`)
  const { message } = await readMessage(parseUiMessageSse(sseBody(read.messages.map((m) => `data: ${m.data}\n\n`).join(''))))
  t.same(callsOf(message), [['call-1', 'output-available', { q: 'x' }, { found: 2 }]])
})
