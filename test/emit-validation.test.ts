import t from 'tap'
import type { AgentEventInput } from '../src/index.ts'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until } from './helpers.ts'

interface ValidationFailure {
  code: string
  message: string
  validation: { field: string; message: string }[]
}

async function failure(promise: Promise<unknown>): Promise<ValidationFailure> {
  try {
    await promise
  } catch (error) {
    return error as ValidationFailure
  }
  throw new Error('expected a rejection')
}

t.test('bad emits reject with FST_AGENT_EVENTS_INVALID_EVENT naming each offending field', async (t) => {
  const server = await startServer(t)
  const { agentEvents } = server.app
  const cases: [string, () => Promise<unknown>, string[]][] = [
    ['bad workflow id', () => agentEvents.emitThought('no spaces', 'x'), ['workflowId']],
    ['empty workflow id', () => agentEvents.emitThought('', 'x'), ['workflowId']],
    ['non-string content', () => agentEvents.emitThought('wf', 42 as unknown as string), ['data.content']],
    ['tool call without name, bad status', () => agentEvents.emitToolCall('wf', { status: 'done' } as never), ['data', 'data.status']],
    ['tool call message not a string', () => agentEvents.emitToolCall('wf', { tool_name: 't', status: 'pending', message: 1 } as never), ['data.message']],
    ['result not an object', () => agentEvents.emitResult('wf', 'done' as never), ['data']],
    ['error without code', () => agentEvents.emitError('wf', { message: 'x' } as never), ['data']],
    ['unknown type', () => agentEvents.emit({ type: 'progress', workflowId: 'wf', data: {} } as unknown as AgentEventInput), ['type']],
    ['unknown top-level field', () => agentEvents.emit({ type: 'thought', workflowId: 'wf', data: { content: 'x' }, seq: 9 } as unknown as AgentEventInput), ['seq']],
    ['bad target', () => agentEvents.emitThought('wf', 'x', { socketId: '' }), ['target']],
    ['two targets', () => agentEvents.emitThought('wf', 'x', { socketId: 'a', userId: 'b' } as never), ['target']],
  ]
  for (const [name, emit, fields] of cases) {
    const error = await failure(emit())
    t.equal(error.code, 'FST_AGENT_EVENTS_INVALID_EVENT', `${name}: code`)
    t.same(error.validation.map((issue) => issue.field).sort(), [...fields].sort(), `${name}: fields`)
    for (const field of fields) t.match(error.message, field, `${name}: message names ${field}`)
  }
  t.equal((await agentEvents.history('wf')).lastSeq, 0, 'nothing invalid was recorded')
})

t.test('a rejected emit loses nothing for subscribers', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  await request(socket, 'agent:subscribe', { workflowId: 'wf' })
  await server.app.agentEvents.emitThought('wf', 'one')
  await t.rejects(server.app.agentEvents.emitThought('wf', 7 as unknown as string))
  await server.app.agentEvents.emitThought('wf', 'two')
  await until(() => received.length === 2)
  t.same(received.map((event) => event.seq), [1, 2], 'no seq was burnt by the invalid event')
})

t.test('validate: false skips the schema but still checks the type and workflow id', async (t) => {
  const server = await startServer(t, { validate: false })
  const event = await server.app.agentEvents.emitThought('wf', 42 as unknown as string)
  t.equal(event.seq, 1)
  await t.rejects(server.app.agentEvents.emitThought('bad id', 'x'), { code: 'FST_AGENT_EVENTS_INVALID_EVENT' })
})

t.test('a socketId target must be a Socket.IO id, never a room name', async (t) => {
  const server = await startServer(t)
  const bob = await connectAs(t, server, 'bob')
  const bobGot = collect(bob, AGENT_EVENTS)
  for (const socketId of ['user:bob', 'workflow:wf', `${bob.id as string}x`, 'a'.repeat(19), 'a b c d e f g h i j ']) {
    const error = await failure(server.app.agentEvents.emitThought('wf', 'to a room', { socketId }))
    t.equal(error.code, 'FST_AGENT_EVENTS_INVALID_EVENT', `${socketId}: code`)
    t.same(error.validation.map((issue) => issue.field), ['target.socketId'], `${socketId}: field`)
    t.match(error.message, 'target.socketId', `${socketId}: message names the field`)
  }
  // A real socket id still works, and is the only thing that reached bob.
  await server.app.agentEvents.emitThought('wf', 'to bob\'s socket', { socketId: bob.id as string })
  await until(() => bobGot.length === 1)
  await request(bob, 'agent:unsubscribe', { workflowId: 'none' })
  t.same(bobGot.map((event) => (event.data as { content: string }).content), ['to bob\'s socket'])
})
