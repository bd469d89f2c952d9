import t from 'tap'
import { connectAs, LogCapture, range, request, startServer } from './helpers.ts'
import { SeqCollector, TRANSPORTS } from './flow-helpers.ts'

// A tool returning 1,000 rows as 1,000 events, each awaited, in a row: far more than
// maxBufferedBytes (1 MiB) waits for the client at once, and a client that keeps reading keeps
// its connection and gets every event.

const EVENTS = 1000
const CONTENT = 'r'.repeat(5 * 1024)

for (const transport of TRANSPORTS) {
  t.test(`${transport}: a burst of ${EVENTS} events of 5 KiB reaches a reading client complete`, async (t) => {
    const logs = new LogCapture()
    const server = await startServer(t, { rateLimit: false }, { logger: { level: 'warn', stream: logs.stream } })
    const reader = await connectAs(t, server, 'reader', { transports: [transport] })
    const received = new SeqCollector(reader)
    let disconnectReason: string | undefined
    reader.on('disconnect', (reason) => (disconnectReason = reason))
    t.match(await request(reader, 'agent:subscribe', { workflowId: 'wf-burst' }), { ok: true })

    for (let n = 0; n < EVENTS; n++) await server.app.agentEvents.emitThought('wf-burst', CONTENT)
    await Promise.race([
      received.reached(EVENTS),
      new Promise((_, reject) => reader.once('disconnect', (reason) => reject(new Error(`disconnected: ${reason}`)))),
    ])
    t.same(received.seqs, range(1, EVENTS), 'every event, in order')
    t.ok(reader.connected, 'still connected')
    t.equal(disconnectReason, undefined)
    t.same(logs.lines.filter((line) => line.msg === 'slow consumer disconnected'), [], 'nobody was taken for a slow consumer')
  })
}
