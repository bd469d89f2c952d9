import t from 'tap'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until } from './helpers.ts'

t.test('malformed subscribe and unsubscribe payloads get INVALID_REQUEST and leave the socket connected', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const payloads: unknown[] = [
    undefined,
    null,
    'wf-1',
    42,
    [],
    {},
    { workflowId: '' },
    { workflowId: 'has space' },
    { workflowId: 'x'.repeat(129) },
    { workflowId: 'ok', afterSeq: -1 },
    { workflowId: 'ok', afterSeq: 1.5 },
    { workflowId: 'ok', afterSeq: '3' },
    { workflowId: 'ok', epoch: 7 },
    { workflowId: 'ok', extra: true },
    { workflowId: { $ne: null } },
    JSON.parse('{"workflowId":"ok","__proto__":{"polluted":true}}'),
  ]
  for (const payload of payloads) {
    const ack = await request(socket, 'agent:subscribe', payload)
    t.match(ack, { ok: false, error: { code: 'INVALID_REQUEST', message: String } }, `subscribe ${JSON.stringify(payload)}`)
  }
  for (const payload of [undefined, {}, { workflowId: '../x' }]) {
    t.match(await request(socket, 'agent:unsubscribe', payload), { ok: false, error: { code: 'INVALID_REQUEST' } })
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.ok(socket.connected)
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'ok' }), { ok: true }, 'the socket still works')
})

t.test('messages without an ack, with only an ack, or unknown events never throw', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  socket.emit('agent:subscribe', { workflowId: 'no-ack' })
  socket.emit('agent:subscribe')
  socket.emit('agent:unsubscribe')
  socket.emit('agent:unknown', { anything: true }, () => {})
  socket.emit('no-such-event')
  t.match(await request(socket, 'agent:subscribe', undefined), { ok: false })
  const onlyAck = await socket.timeout(5000).emitWithAck('agent:subscribe')
  t.match(onlyAck, { ok: false, error: { code: 'INVALID_REQUEST' } })
  // The subscribe without an ack still subscribed.
  await server.app.agentEvents.emitThought('no-ack', 'delivered')
  await until(() => received.length === 1)
  t.ok(socket.connected)
})

t.test('maxSubscriptions holds under concurrency: 101 subscribes at once give exactly 100 ok', async (t) => {
  // 103 messages in this test: above the default message limit (100 per 10 s), which has its own tests.
  const server = await startServer(t, {
    authorize: async () => { await new Promise((resolve) => setImmediate(resolve)); return true },
    rateLimit: { message: { max: 1000, timeWindow: '10 seconds' } },
  })
  const socket = await connectAs(t, server, 'u1')
  const acks = await Promise.all(
    Array.from({ length: 101 }, (_, i) => request<{ ok: boolean; error?: { code: string } }>(socket, 'agent:subscribe', { workflowId: `wf-${i}` })),
  )
  t.equal(acks.filter((ack) => ack.ok).length, 100)
  t.same(acks.filter((ack) => !ack.ok).map((ack) => ack.error?.code), ['TOO_MANY_SUBSCRIPTIONS'])
  t.same(await request(socket, 'agent:unsubscribe', { workflowId: 'wf-0' }), { ok: true })
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf-100' }), { ok: true }, 'a freed slot can be used again')
})

t.test('subscribing twice to one workflow is refused without disturbing the first subscription', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const received = collect(socket, AGENT_EVENTS)
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf' }), { ok: true })
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf' }), { ok: false, error: { code: 'INVALID_REQUEST' } })
  await server.app.agentEvents.emitThought('wf', 'once')
  await until(() => received.length === 1)
  await request(socket, 'agent:unsubscribe', { workflowId: 'other' })
  t.equal(received.length, 1, 'delivered once')
})

t.test('a bad client does not disturb another client', async (t) => {
  const server = await startServer(t)
  const bad = await connectAs(t, server, 'mallory')
  const good = await connectAs(t, server, 'u1')
  const received = collect(good, AGENT_EVENTS)
  await request(good, 'agent:subscribe', { workflowId: 'wf' })
  for (let i = 0; i < 50; i++) {
    bad.emit('agent:subscribe', { workflowId: i % 2 ? null : 'x'.repeat(500) })
    bad.emit('agent:unsubscribe', i)
  }
  for (let i = 0; i < 10; i++) await server.app.agentEvents.emitThought('wf', `t${i}`)
  await until(() => received.length === 10)
  t.same(received.map((event) => event.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})
