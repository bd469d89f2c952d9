import t from 'tap'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until } from './helpers.ts'

type Ack = { ok: boolean; error?: { code: string; message: string } }

t.test('authorize fails closed: throws, rejects, times out or answers anything but true', async (t) => {
  const server = await startServer(t, {
    authorizeTimeout: 100,
    authorize: ({ workflowId }) => {
      switch (workflowId) {
        case 'throws': throw new Error('lookup failed')
        case 'rejects': return Promise.reject(new Error('lookup failed'))
        case 'hangs': return new Promise<boolean>(() => {})
        case 'truthy': return 'yes' as unknown as boolean
        case 'one': return 1 as unknown as boolean
        case 'denied': return false
        default: return true
      }
    },
  })
  const alice = await connectAs(t, server, 'alice')
  for (const workflowId of ['throws', 'rejects', 'hangs', 'truthy', 'one', 'denied']) {
    const ack = await request<Ack>(alice, 'agent:subscribe', { workflowId })
    t.equal(ack.error?.code, 'FORBIDDEN', `${workflowId}: FORBIDDEN`)
    t.equal(ack.error?.message, 'Not allowed to follow this workflow', `${workflowId}: the cause stays on the server`)
  }
  t.match(await request(alice, 'agent:subscribe', { workflowId: 'allowed' }), { ok: true }, 'true allows')
  const received = collect(alice, AGENT_EVENTS)
  await server.app.agentEvents.emitThought('throws', 'secret')
  await server.app.agentEvents.emitThought('allowed', 'sentinel')
  await until(() => received.length === 1)
  t.match(received, [{ workflowId: 'allowed' }], 'a denied workflow delivers nothing')
})

t.test('rooms are prefixed: a workflow id cannot name a socket\'s or a user\'s room', async (t) => {
  const server = await startServer(t)
  const alice = await connectAs(t, server, 'alice')
  const bob = await connectAs(t, server, 'bob')
  const aliceGot = collect(alice, AGENT_EVENTS)
  const bobGot = collect(bob, AGENT_EVENTS)
  for (const workflowId of [bob.id ?? '', 'user:bob', 'bob', 'workflow:wf-bob']) {
    t.match(await request(alice, 'agent:subscribe', { workflowId }), { ok: true }, `alice may subscribe to "${workflowId}" as a workflow id`)
  }
  await server.app.agentEvents.emitThought('wf-bob', 'to bob\'s socket', { socketId: bob.id ?? '' })
  await server.app.agentEvents.emitThought('wf-bob', 'to bob the user', { userId: 'bob' })
  await server.app.agentEvents.emitThought('sentinel', 'to every subscriber of sentinel')
  t.match(await request(alice, 'agent:subscribe', { workflowId: 'sentinel', afterSeq: 0 }), { ok: true, replayed: 1 })
  await until(() => aliceGot.length === 1 && bobGot.length === 2)
  t.match(aliceGot, [{ workflowId: 'sentinel' }], 'alice got none of bob\'s direct events')
  t.equal(bobGot.length, 2, 'bob got both')
})
