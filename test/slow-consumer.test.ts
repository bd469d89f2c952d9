import { once } from 'node:events'
import type { Socket as NetSocket } from 'node:net'
import { Writable } from 'node:stream'
import t from 'tap'
import type { Socket as ClientSocket } from 'socket.io-client'
import { AGENT_EVENTS, collect, connectAs, request, startServer, until } from './helpers.ts'

const EVENT_BYTES = 64 * 1024

/** Stop reading from the client's TCP socket, as a frozen browser tab does: the server's writes back up. */
function stopReading(socket: ClientSocket): void {
  const transport = socket.io.engine.transport as unknown as { ws?: { _socket?: NetSocket } }
  const tcp = transport.ws?._socket
  if (tcp === undefined) throw new Error('expected a websocket transport with a TCP socket')
  tcp.pause()
}

t.test('a consumer that stops reading is disconnected at maxBufferedBytes; a healthy one gets everything', async (t) => {
  const warnings: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.length > 0) warnings.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  const server = await startServer(t, { replay: { maxEvents: 50 } }, { logger: { level: 'warn', stream } })
  const healthy = await connectAs(t, server, 'healthy')
  const slow = await connectAs(t, server, 'slow')
  const received = collect<{ seq: number }>(healthy, AGENT_EVENTS)
  t.match(await request(healthy, 'agent:subscribe', { workflowId: 'wf-flow' }), { ok: true })
  t.match(await request(slow, 'agent:subscribe', { workflowId: 'wf-flow' }), { ok: true })

  const serverSide = server.app.agentEvents.io.of('/').sockets.get(slow.id ?? '')
  if (serverSide === undefined) throw new Error('slow socket not found on the server')
  let dropped = false
  const disconnected = once(serverSide, 'disconnect').then(([reason]) => {
    dropped = true
    return reason as string
  })
  stopReading(slow)

  const content = 'x'.repeat(EVENT_BYTES)
  let emitted = 0
  // Events flow until the stalled socket is dropped; the bound only stops a broken run.
  while (!dropped && emitted < 2000) {
    await server.app.agentEvents.emitThought('wf-flow', content)
    emitted++
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(dropped, `the slow consumer was disconnected after ${emitted} events of ${EVENT_BYTES} bytes`)
  t.equal(await disconnected, 'server namespace disconnect', 'by the server')
  const warning = warnings.find((entry) => entry.msg === 'slow consumer disconnected')
  t.ok(warning, 'and logged')
  const unsent = Number(warning?.unsentBytes)
  t.ok(unsent > 1_048_576, 'past the default maxBufferedBytes of 1 MiB')
  t.ok(unsent <= 4 * 1_048_576 + EVENT_BYTES + 1024, 'and never past four times it: what the server held for it stayed bounded')
  const engineBuffer = (serverSide.conn as unknown as { writeBuffer: unknown[] }).writeBuffer
  t.equal(engineBuffer.length, 0, 'its queued packets were let go')

  // A few more events after the drop: the healthy client still gets every one, in order.
  for (let n = 0; n < 5; n++, emitted++) await server.app.agentEvents.emitThought('wf-flow', content)
  await until(() => received.length === emitted, 10_000)
  t.same(received.map((event) => event.seq), Array.from({ length: emitted }, (_, n) => n + 1), 'the healthy client got every event in order')
  t.ok(healthy.connected)
  t.equal(server.app.agentEvents.getConnectedCount(), 1)

  // The dropped client recovers by reconnecting and replaying.
  const again = await connectAs(t, server, 'slow')
  const ack = await request<{ ok: boolean; replayed: number; lastSeq: number }>(again, 'agent:subscribe', { workflowId: 'wf-flow', afterSeq: 0 })
  t.match(ack, { ok: true, lastSeq: emitted, replayed: Math.min(50, emitted) }, 'the dropped client recovers by replay')
})

t.test('maxBufferedBytes is configurable', async (t) => {
  const server = await startServer(t, { maxBufferedBytes: 200_000 })
  const slow = await connectAs(t, server, 'slow')
  t.match(await request(slow, 'agent:subscribe', { workflowId: 'wf-small' }), { ok: true })
  const serverSide = server.app.agentEvents.io.of('/').sockets.get(slow.id ?? '')
  if (serverSide === undefined) throw new Error('slow socket not found on the server')
  let dropped = false
  void once(serverSide, 'disconnect').then(() => (dropped = true))
  stopReading(slow)
  let emitted = 0
  while (!dropped && emitted < 2000) {
    await server.app.agentEvents.emitThought('wf-small', 'y'.repeat(EVENT_BYTES))
    emitted++
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.ok(dropped, `dropped after ${emitted} events`)
})
