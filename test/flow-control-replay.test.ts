import t from 'tap'
import { connectAs, LogCapture, range, startServer, type SubscribeOk } from './helpers.ts'
import { SeqCollector, TRANSPORTS } from './flow-helpers.ts'

// A reload replays a long workflow from the start: the replay is paced by the subscriber's
// transport, so no replay of any length makes a reading client a slow consumer.

const CASES = [
  { events: 1000, bytes: 5 * 1024 },
  // 200 KiB events fit the default maxEventBytes (256 KiB) and maxBufferedBytes (1 MiB).
  { events: 100, bytes: 200 * 1024 },
] as const

for (const transport of TRANSPORTS) {
  for (const { events, bytes } of CASES) {
    t.test(`${transport}: a replay from afterSeq 0 of ${events} events of ${bytes / 1024} KiB completes on a reading client`, async (t) => {
      const logs = new LogCapture()
      const server = await startServer(t, { rateLimit: false, replay: { maxEvents: events } }, { logger: { level: 'warn', stream: logs.stream } })
      const content = 'p'.repeat(bytes)
      for (let n = 0; n < events; n++) await server.app.agentEvents.emitThought('wf-replay', content)

      const reader = await connectAs(t, server, 'reader', { transports: [transport] })
      const received = new SeqCollector(reader)
      const disconnected = new Promise<never>((_, reject) => {
        reader.once('disconnect', (reason) => reject(new Error(`disconnected during the replay: ${reason}`)))
      })
      // The ack follows the whole replay, which may take a while over polling.
      const ack = reader.timeout(120_000).emitWithAck('agent:subscribe', { workflowId: 'wf-replay', afterSeq: 0 }) as Promise<SubscribeOk>
      // Awaited below; a replay cut short fails the test through `disconnected` first.
      ack.catch(() => undefined)
      await Promise.race([received.reached(events, 120_000), disconnected])
      t.match(await Promise.race([ack, disconnected]), { ok: true, replayed: events, lastSeq: events, truncated: false })
      t.same(received.seqs, range(1, events), 'every event, in order')
      t.ok(reader.connected)
      t.same(logs.lines.filter((line) => line.msg === 'slow consumer disconnected'), [], 'nobody was taken for a slow consumer')
    })
  }
}
