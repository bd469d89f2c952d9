import t from 'tap'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until } from './helpers.ts'

t.test('smoke', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const got = collect(socket, AGENT_EVENTS)
  const ack = await request(socket, 'agent:subscribe', { workflowId: 'wf1' })
  t.match(ack, { ok: true, lastSeq: 0 })
  await server.app.agentEvents.emitThought('wf1', 'hello')
  await server.app.agentEvents.emitToolCall('wf1', { tool_name: 'x', status: 'pending' })
  await until(() => got.length === 2)
  t.same(got.map((e) => e.seq), [1, 2])
  t.equal(server.app.agentEvents.getConnectedCount(), 1)
})
