import t from 'tap'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until } from './helpers.ts'

t.test('only subscribers of a workflow receive its events', async (t) => {
  const server = await startServer(t, { authorize: ({ userId, workflowId }) => workflowId.startsWith(`${userId}-`) })
  const alice = await connectAs(t, server, 'alice')
  const bob = await connectAs(t, server, 'bob')
  const idle = await connectAs(t, server, 'alice')
  const aliceGot = collect(alice, AGENT_EVENTS)
  const bobGot = collect(bob, AGENT_EVENTS)
  const idleGot = collect(idle, AGENT_EVENTS)

  t.match(await request(alice, 'agent:subscribe', { workflowId: 'alice-1' }), { ok: true })
  t.same(await request(bob, 'agent:subscribe', { workflowId: 'alice-1' }), {
    ok: false,
    error: { code: 'FORBIDDEN', message: 'Not allowed to follow this workflow' },
  })
  t.match(await request(bob, 'agent:subscribe', { workflowId: 'bob-1' }), { ok: true })

  await server.app.agentEvents.emitThought('alice-1', 'for alice')
  await server.app.agentEvents.emitThought('bob-1', 'for bob')
  await server.app.agentEvents.emitThought('carol-1', 'for nobody')
  await until(() => aliceGot.length === 1 && bobGot.length === 1)
  // A marker through the same connections proves that nothing else was on its way.
  await request(alice, 'agent:unsubscribe', { workflowId: 'none' })
  await request(bob, 'agent:unsubscribe', { workflowId: 'none' })
  await request(idle, 'agent:unsubscribe', { workflowId: 'none' })
  t.same(aliceGot.map((event) => event.workflowId), ['alice-1'])
  t.same(bobGot.map((event) => event.workflowId), ['bob-1'])
  t.same(idleGot, [], 'a socket that did not subscribe receives nothing')
})

t.test('authorize is asked with the user, user id, workflow id and socket; non-true answers deny', async (t) => {
  const seen: Record<string, unknown>[] = []
  const server = await startServer(t, {
    authorize: async (context) => {
      seen.push({ userId: context.userId, workflowId: context.workflowId, sub: (context.user as { sub?: string }).sub, socketId: context.socket?.id })
      if (context.workflowId === 'throws') throw new Error('database down')
      if (context.workflowId === 'truthy') return 'yes' as unknown as boolean
      if (context.workflowId === 'slow') return new Promise<boolean>(() => {})
      return context.workflowId === 'allowed'
    },
    authorizeTimeout: 200,
  })
  const socket = await connectAs(t, server, 'u1')
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'allowed' }), { ok: true })
  for (const workflowId of ['denied', 'throws', 'truthy', 'slow']) {
    t.match(await request(socket, 'agent:subscribe', { workflowId }), { ok: false, error: { code: 'FORBIDDEN' } }, workflowId)
  }
  t.same(seen[0], { userId: 'u1', workflowId: 'allowed', sub: 'u1', socketId: socket.id })
  t.ok(socket.connected, 'denials leave the socket connected')
})

t.test('direct events reach only the named socket or user, without seq or id', async (t) => {
  const server = await startServer(t)
  const alice1 = await connectAs(t, server, 'alice')
  const alice2 = await connectAs(t, server, 'alice')
  const bob = await connectAs(t, server, 'bob')
  const got = { alice1: collect(alice1, AGENT_EVENTS), alice2: collect(alice2, AGENT_EVENTS), bob: collect(bob, AGENT_EVENTS) }

  const toSocket = await server.app.agentEvents.emitThought('wf', 'just you', { socketId: alice1.id as string })
  t.same(Object.keys(toSocket), ['type', 'workflowId', 'data', 'timestamp'])
  await until(() => got.alice1.length === 1)
  const toUser = await server.app.agentEvents.emitResult('wf', { content: 'all your tabs' }, { userId: 'alice' })
  await until(() => got.alice1.length === 2 && got.alice2.length === 1)
  await request(bob, 'agent:unsubscribe', { workflowId: 'none' })
  t.same(got.alice1, [toSocket, toUser])
  t.same(got.alice2, [toUser])
  t.same(got.bob, [])
  t.equal((await server.app.agentEvents.history('wf')).lastSeq, 0, 'direct events are not recorded')
})

t.test('an unsubscribed socket stops receiving; other subscribers go on', async (t) => {
  const server = await startServer(t)
  const leaving = await connectAs(t, server, 'u1')
  const staying = await connectAs(t, server, 'u2')
  const leavingGot = collect(leaving, AGENT_EVENTS)
  const stayingGot = collect(staying, AGENT_EVENTS)
  await request(leaving, 'agent:subscribe', { workflowId: 'wf' })
  await request(staying, 'agent:subscribe', { workflowId: 'wf' })
  await server.app.agentEvents.emitThought('wf', 'one')
  await until(() => leavingGot.length === 1 && stayingGot.length === 1)
  t.same(await request(leaving, 'agent:unsubscribe', { workflowId: 'wf' }), { ok: true })
  await server.app.agentEvents.emitThought('wf', 'two')
  await until(() => stayingGot.length === 2)
  await request(leaving, 'agent:unsubscribe', { workflowId: 'wf' })
  t.same(leavingGot.map((event) => event.seq), [1])
  t.same(stayingGot.map((event) => event.seq), [1, 2])
})
