import t from 'tap'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until } from './helpers.ts'

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('the four events have the exact wire payloads, names and seq order', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const received: [string, Record<string, unknown>][] = []
  for (const name of AGENT_EVENTS) socket.on(name, (payload) => received.push([name, payload]))
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf-1' }), { ok: true, workflowId: 'wf-1', lastSeq: 0 })

  const { agentEvents } = server.app
  const sent = [
    await agentEvents.emitThought('wf-1', 'thinking…'),
    await agentEvents.emitToolCall('wf-1', { tool_name: 'search', status: 'in_progress', message: 'querying', progress: 0.5 }),
    await agentEvents.emitResult('wf-1', { status: 'success', content_type: 'text/plain', content: '42' }),
    await agentEvents.emitError('wf-1', { code: 'TOOL_TIMEOUT', message: 'search timed out', details: { after: 30 } }),
  ]
  await until(() => received.length === 4)

  t.same(received.map(([name]) => name), AGENT_EVENTS)
  t.same(received.map(([, event]) => event), sent, 'each client receives exactly what the emitter resolved with')
  t.same(sent.map((event) => event.seq), [1, 2, 3, 4])
  t.same(sent.map((event) => event.type), ['thought', 'tool_call', 'result', 'error'])
  for (const event of sent) {
    t.same(Object.keys(event), ['type', 'workflowId', 'data', 'timestamp', 'seq', 'id'])
    t.match(event.timestamp, ISO_UTC)
    t.type(event.id, 'string')
  }
  t.same(sent[0]?.data, { content: 'thinking…' })
  t.same(sent[1]?.data, { tool_name: 'search', status: 'in_progress', message: 'querying', progress: 0.5 }, 'extra fields travel inside data')
  t.same(sent[3]?.data, { code: 'TOOL_TIMEOUT', message: 'search timed out', details: { after: 30 } })
  t.equal(new Set(sent.map((event) => event.id)).size, 4, 'ids are unique')
})

t.test('seq counts per workflow, and the generic emit matches the typed emitters', async (t) => {
  const server = await startServer(t)
  const { agentEvents } = server.app
  const a1 = await agentEvents.emit({ type: 'thought', workflowId: 'a', data: { content: '1' } })
  const b1 = await agentEvents.emit({ type: 'thought', workflowId: 'b', data: { content: '1' } })
  const a2 = await agentEvents.emitThought('a', '2')
  t.same([a1.seq, b1.seq, a2.seq], [1, 1, 2])
})

t.test('concurrent emits get distinct, contiguous seqs and arrive in seq order', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  await request(socket, 'agent:subscribe', { workflowId: 'wf' })
  const sent = await Promise.all(Array.from({ length: 200 }, (_, i) => server.app.agentEvents.emitThought('wf', `t${i}`)))
  await until(() => received.length === 200)
  t.same(sent.map((event) => event.seq).sort((x, y) => (x ?? 0) - (y ?? 0)), Array.from({ length: 200 }, (_, i) => i + 1))
  t.same(received.map((event) => event.seq), Array.from({ length: 200 }, (_, i) => i + 1))
})
