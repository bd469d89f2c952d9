// The UI message stream across two nodes sharing a Redis replay store: a run played on node A
// streams live to a client of node B, and reads back whole from node A once it has finished.
import { DefaultChatTransport } from 'ai'
import t, { type Test } from 'tap'
import { playRun } from '../examples/demo/agent-run.ts'
import type { FastifyInstance } from 'fastify'
import { until } from './helpers.ts'
import { startRedisNode, type RedisNode } from './redis-nodes.ts'
import { redisAvailable, startRedis } from './redis-server.ts'
import { checkSuccessMessage, readMessage, type AgentUIMessage } from './ui-message-chunks.ts'

const WORKFLOW = 'wf-redis-ui'

/** A node whose `GET /runs/:id/stream` answers with the run's UI message stream (a resume route's shape). */
function withStreamRoute(app: FastifyInstance): void {
  app.get<{ Params: { id: string } }>('/runs/:id/stream', { onRequest: (request) => request.jwtVerify() }, async (request, reply) => {
    return reply.uiMessageStream(request.params.id)
  })
}

function transportOf(node: RedisNode): DefaultChatTransport<AgentUIMessage> {
  const token = node.token('alice')
  return new DefaultChatTransport<AgentUIMessage>({ api: `${node.url}/runs`, headers: { authorization: `Bearer ${token}` } })
}

async function messageFrom(node: RedisNode): Promise<AgentUIMessage | undefined> {
  const stream = await transportOf(node).reconnectToStream({ chatId: WORKFLOW })
  if (stream === null) throw new Error('no stream')
  const { message, errors } = await readMessage(stream)
  if (errors.length > 0) throw errors[0]
  return message
}

if (redisAvailable(t)) {
  t.test('Redis: node B streams a run of node A live; node A reads it back whole once it is over', async (t: Test) => {
    const redis = await startRedis(t)
    const a = await startRedisNode(t, redis, {}, { before: withStreamRoute })
    const b = await startRedisNode(t, redis, {}, { before: withStreamRoute })
    const live = messageFrom(b)
    // The stream of node B waits for the run's first event.
    await until(() => b.app.agentEvents.getReaderCount() === 1)
    await playRun(a.app.agentEvents, WORKFLOW, { scenario: 'success', stepMs: 0, tokenMs: 2, signal: new AbortController().signal })
    const fromB = await live
    checkSuccessMessage(t, fromB)
    t.same(await messageFrom(a), fromB, 'the same message from the other node, after the run')
    t.equal(b.app.agentEvents.getReaderCount(), 0, 'no reader left on node B')
    t.equal(a.app.agentEvents.getReaderCount(), 0, 'nor on node A')
  })
}
