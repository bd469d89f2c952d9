import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client'
import type { AgentEvent } from '../src/index.ts'
import { unsentBytes } from '../src/transport-backlog.ts'
import { AGENT_EVENTS, connectAs, LogCapture, range, request, startServer, waitFor, type TestServer } from './helpers.ts'
import { heldBytes, MiB, SeqCollector, serverSocketOf, TRANSPORTS, type TransportName } from './flow-helpers.ts'
import { stallingProxy } from './stalling-proxy.ts'

const EVENT_CHARS = 16 * 1024
const WORKFLOW = 'wf-flow'

/** Content of its own for each event, so that the replay buffer really holds what it counts. */
const uniqueContent = (): string => randomBytes(EVENT_CHARS / 2).toString('hex')

/**
 * A client as the README's "Following a workflow by hand" writes it, with default socket.io-client
 * options: it resubscribes on every `connect` with its last `seq` and `epoch`.
 */
function readmeClient(t: Test, url: string, token: string, transport: TransportName) {
  const socket: ClientSocket = ioClient(url, { auth: { token }, transports: [transport], forceNew: true })
  t.teardown(() => void socket.disconnect())
  const workflowId = WORKFLOW
  const saved: { lastSeq: number; epoch?: string } = { lastSeq: 0 }
  const rendered = new SeqCollector()
  const disconnects: string[] = []
  const problems: unknown[] = []
  socket.on('disconnect', (reason) => disconnects.push(reason))

  // From the README, with `render` keeping the seq and `sessionStorage` an object.
  let pending: AgentEvent[] | undefined
  const onEvent = (event: AgentEvent): void => {
    if (event.workflowId !== workflowId || event.seq === undefined) return
    if (pending) return void pending.push(event)
    rendered.add(event.seq)
    saved.lastSeq = event.seq
  }
  for (const name of AGENT_EVENTS) socket.on(name, onEvent)
  socket.on('connect', () => {
    pending = []
    socket.emit('agent:subscribe', { workflowId, afterSeq: saved.lastSeq, epoch: saved.epoch }, (ack: { ok: boolean; epoch: string; truncated: boolean }) => {
      const replayed = pending ?? []
      pending = undefined
      if (!ack.ok) return void problems.push(ack)
      if (ack.truncated) problems.push('truncated')
      saved.epoch = ack.epoch
      replayed.forEach(onEvent)
    })
  })
  return { socket, rendered, disconnects, problems }
}

async function subscribed(client: { socket: ClientSocket }): Promise<void> {
  if (!client.socket.connected) await waitFor(client.socket, 'connect')
  // The README's subscribe runs on `connect`; a request behind it proves it was served.
  await request(client.socket, 'agent:unsubscribe', { workflowId: 'wf-none' })
}

for (const transport of TRANSPORTS) {
  t.test(`${transport}: a client that stops reading is dropped after slowConsumerTimeout; its neighbour misses nothing; it recovers exactly`, async (t) => {
    const timeoutMs = transport === 'websocket' ? 5000 : 2000
    const maxBufferedBytes = MiB
    const logs = new LogCapture()
    const server: TestServer = await startServer(
      t,
      {
        rateLimit: false,
        replay: { maxEvents: 5000 },
        ...(transport === 'websocket' ? {} : { slowConsumerTimeout: '2 seconds' }),
      },
      { logger: { level: 'warn', stream: logs.stream } },
    )
    const proxy = await stallingProxy(t, server.url)
    const reader = await connectAs(t, server, 'reader', { transports: [transport] })
    const readerSeqs = new SeqCollector(reader)
    t.match(await request(reader, 'agent:subscribe', { workflowId: WORKFLOW }), { ok: true })
    const stalled = readmeClient(t, proxy.url, server.token('stalled'), transport)
    await subscribed(stalled)
    const stalledSide = serverSocketOf(server, stalled.socket)

    const before = heldBytes()
    proxy.stall()
    const dropped = logs.next('slow consumer disconnected')
    let emitted = 0
    const emit = async (): Promise<void> => {
      await server.app.agentEvents.emitThought(WORKFLOW, uniqueContent())
      emitted++
    }
    // Fill the kernel's buffers, then past the limit...
    while (unsentBytes(stalledSide) <= maxBufferedBytes) {
      await emit()
      await new Promise((resolve) => setImmediate(resolve))
      if (emitted > 4000) throw new Error('the server never backed up')
    }
    const passedAt = Date.now()
    // ...and on, to four times it: the queue held for the stalled client is worth weighing.
    while (unsentBytes(stalledSide) <= 4 * maxBufferedBytes) await emit()
    const line = await dropped
    const droppedAfter = Date.now() - passedAt
    t.ok(droppedAfter >= timeoutMs - 50 && droppedAfter <= timeoutMs + 1000, `dropped ${droppedAfter} ms after passing maxBufferedBytes (timeout ${timeoutMs} ms)`)
    t.match(line, { level: 40, socketId: stalledSide.id, userId: 'stalled' }, 'logged with its socket and user')
    t.ok(Number(line.unsentBytes) > 4 * maxBufferedBytes, `with its unsent bytes (${line.unsentBytes})`)
    t.not(stalledSide.conn.readyState, 'open', 'its transport is closed or closing')

    const { lastSeq } = await server.app.agentEvents.history(WORKFLOW, { limit: 1 })
    let replayBytes = 0
    for (let afterSeq = 0; afterSeq < emitted; ) {
      const page = await server.app.agentEvents.history(WORKFLOW, { afterSeq, limit: 1000 })
      for (const event of page.events) replayBytes += Buffer.byteLength(JSON.stringify(event))
      afterSeq = page.events.at(-1)?.seq ?? emitted
    }
    t.equal(lastSeq, emitted)
    const after = heldBytes()
    const grown = after.total - before.total
    t.comment(
      `heap ${(before.heapUsed / MiB).toFixed(1)} -> ${(after.heapUsed / MiB).toFixed(1)} MiB, external ${(before.external / MiB).toFixed(1)} -> ${(after.external / MiB).toFixed(1)} MiB; ` +
        `replay buffer ${(replayBytes / MiB).toFixed(1)} MiB (${emitted} events); grown ${(grown / MiB).toFixed(1)} MiB`,
    )
    t.ok(grown <= replayBytes + 2 * MiB, 'what the server held for the stalled client was let go: it keeps the replay buffer, and little else')

    // Events go on; the neighbour gets every one; the dropped client reconnects by itself.
    for (let n = 0; n < 20; n++) await emit()
    proxy.resume()
    await readerSeqs.reached(emitted)
    t.same(readerSeqs.seqs, range(1, emitted), 'the reading client missed nothing')
    t.ok(reader.connected, 'and stayed connected')
    await stalled.rendered.reached(emitted)
    t.same(stalled.rendered.seqs, range(1, emitted), 'the dropped client, resubscribing as the README does, ends with exactly 1..N')
    t.same(stalled.problems, [])
    t.same(stalled.disconnects, ['transport close'], 'it saw "transport close", never "io server disconnect"')
    t.ok(stalled.socket.connected)
  })

  t.test(`${transport}: past 8 × maxBufferedBytes a client is dropped at the next sample, without waiting for slowConsumerTimeout`, async (t) => {
    const logs = new LogCapture()
    const server = await startServer(
      t,
      { rateLimit: false, maxBufferedBytes: 256 * 1024, slowConsumerTimeout: '1 minute' },
      { logger: { level: 'warn', stream: logs.stream } },
    )
    const proxy = await stallingProxy(t, server.url)
    const stalled = await connectAs(t, { ...server, url: proxy.url }, 'stalled', { transports: [transport] })
    const stalledSide = serverSocketOf(server, stalled)
    const reason = waitFor<string>(stalled, 'disconnect', 20_000)
    proxy.stall()
    // A polling client's pending poll takes the first event: a small one, that the kernel takes
    // whole, so that the burst waits in engine.io's queue.
    await server.app.agentEvents.emitThought(WORKFLOW, 'first', { socketId: stalledSide.id })
    const dropped = logs.next('slow consumer disconnected')
    const content = 'z'.repeat(200_000)
    const emitDirect = (): Promise<unknown> => server.app.agentEvents.emitThought(WORKFLOW, content, { socketId: stalledSide.id })
    // Fill the kernel's buffers first: past them, nothing leaves.
    while (unsentBytes(stalledSide) <= 256 * 1024) {
      await emitDirect()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    // Then, in one tick, 2.4 MB more: past 8 × maxBufferedBytes (2 MiB).
    await Promise.all(Array.from({ length: 12 }, emitDirect))
    const queued = unsentBytes(stalledSide)
    t.ok(queued > 8 * 256 * 1024, `${queued} bytes queued`)
    const startedAt = Date.now()
    const line = await dropped
    t.ok(Date.now() - startedAt <= 1000, 'dropped at the next sample, long before slowConsumerTimeout')
    t.ok(Number(line.unsentBytes) > 8 * 256 * 1024, 'logged with its unsent bytes')
    proxy.resume()
    t.equal(await reason, 'transport close', 'the client saw "transport close"')
  })
}
