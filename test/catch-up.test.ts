// Catching up: a replay written at the pace of the subscriber's transport, with live events
// arriving all along, ends in the live stream with every event exactly once, in order.
import t from 'tap'
import { AGENT_EVENTS, collect, connectAs, range, request, seqs, startServer, until, type SubscribeOk } from './helpers.ts'

const KIB = 1024

for (const transport of ['websocket', 'polling'] as const) {
  t.test(`${transport}: a paced replay with live events arriving meanwhile (more than the catch-up keeps) gives 1..N once each`, async (t) => {
    // A small transport budget makes the replay wait for the client many times over.
    const server = await startServer(t, { maxBufferedBytes: 256 * KIB, replay: { maxEvents: 5000 }, rateLimit: false })
    const content = 'x'.repeat(4 * KIB)
    const before = 600
    for (let i = 0; i < before; i++) await server.app.agentEvents.emitThought('wf', content)
    const socket = await connectAs(t, server, 'reader', { transports: [transport] })
    const received = collect(socket, AGENT_EVENTS)
    const during = 1500
    let emitted = before
    const emitting = (async () => {
      for (let i = 0; i < during; i++) {
        await server.app.agentEvents.emitThought('wf', 'live')
        emitted++
        // Let the socket write between bursts, as an agent's awaits do.
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve))
      }
    })()
    const ack = await request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
    t.equal(ack.ok, true)
    t.equal(ack.truncated, false)
    t.ok(ack.lastSeq >= before, 'the ack names the last event sent before it')
    t.same(seqs(received.slice(0, ack.lastSeq)), range(1, ack.lastSeq), 'everything up to lastSeq came before the ack, in order')
    await emitting
    await until(() => received.length >= emitted, 20_000)
    t.same(seqs(received), range(1, before + during), 'then every live event, once, in order')
    t.ok(socket.connected, 'the reading client was never dropped')
  })
}

t.test('an unsubscribe during a paced replay stops it, and the socket can subscribe again', async (t) => {
  const server = await startServer(t, { maxBufferedBytes: 64 * KIB, replay: { maxEvents: 3000 }, rateLimit: false })
  const content = 'y'.repeat(8 * KIB)
  const total = 3000
  for (let i = 0; i < total; i++) await server.app.agentEvents.emitThought('wf', content)
  const socket = await connectAs(t, server, 'reader')
  const received = collect(socket, AGENT_EVENTS)
  const first = request(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
  await until(() => received.length > 0)
  t.same(await request(socket, 'agent:unsubscribe', { workflowId: 'wf' }), { ok: true })
  t.match(await first, { ok: false, error: { code: 'INVALID_REQUEST' } }, 'the cancelled subscribe says so')
  const stoppedAt = received.length
  t.ok(stoppedAt < total, `the replay stopped early (${stoppedAt} of ${total} sent)`)
  received.length = 0
  const again = await request<SubscribeOk>(socket, 'agent:subscribe', { workflowId: 'wf', afterSeq: 0 })
  t.match(again, { ok: true, lastSeq: total, replayed: total })
  await server.app.agentEvents.emitThought('wf', 'after')
  await until(() => received.length === total + 1)
  t.same(seqs(received), range(1, total + 1))
})
