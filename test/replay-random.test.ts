import t from 'tap'
import { client, startServer, until } from './helpers.ts'
import { seededRandom, seedsFromEnv } from './random.ts'
import { ReconnectingTracker } from './reconnecting-tracker.ts'

const CLIENTS = 6
const WORKFLOWS = ['wf-a', 'wf-b', 'wf-c', 'wf-d']
const EVENTS = 3000

for (const seed of seedsFromEnv([1, 2, 3])) {
  t.test(`clients reconnecting at random moments end with exactly 1..N per workflow (seed ${seed})`, async (t) => {
    t.comment(`seed ${seed}: replay with SEEDS=${seed} npx tap test/replay-random.test.ts`)
    const random = seededRandom(seed)
    const server = await startServer(t)
    const trackers = Array.from({ length: CLIENTS }, (_, i) =>
      new ReconnectingTracker(`client-${i}`, WORKFLOWS, () => client(t, server, { auth: { token: server.token(`user-${i}`) } })),
    )
    t.teardown(() => trackers.forEach((tracker) => tracker.close()))
    await Promise.all(trackers.map((tracker) => tracker.reconnect()))

    const emitted = new Map(WORKFLOWS.map((workflowId) => [workflowId, 0]))
    const reconnecting: Promise<void>[] = []
    for (let i = 0; i < EVENTS; i++) {
      const workflowId = WORKFLOWS[Math.floor(random() * WORKFLOWS.length)] as string
      const emit = server.app.agentEvents.emitThought(workflowId, `event ${i}`)
      emitted.set(workflowId, (emitted.get(workflowId) ?? 0) + 1)
      if (random() < 0.01) {
        const tracker = trackers[Math.floor(random() * CLIENTS)] as ReconnectingTracker
        reconnecting.push(tracker.reconnect())
      }
      // Let the event loop run now and then, so reconnects and emits interleave.
      if (random() < 0.2) await emit
      if (random() < 0.05) await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(reconnecting)
    await until(
      () => trackers.every((tracker) => WORKFLOWS.every((workflowId) => tracker.seen.get(workflowId)?.lastSeq === emitted.get(workflowId))),
      20_000,
    )
    t.same(trackers.flatMap((tracker) => tracker.problems), [], 'no gap, duplicate, reordering or truncation')
    for (const tracker of trackers) {
      for (const workflowId of WORKFLOWS) {
        const seqs = tracker.seen.get(workflowId)?.seqs ?? []
        const expected = Array.from({ length: emitted.get(workflowId) ?? 0 }, (_, i) => i + 1)
        if (JSON.stringify(seqs) !== JSON.stringify(expected)) t.fail(`${tracker.name}/${workflowId} saw ${seqs.length} events, not 1..${expected.length}`)
      }
    }
    t.ok(trackers.reduce((sum, tracker) => sum + tracker.reconnections, 0) > CLIENTS + 10, 'clients did reconnect mid-stream')
  })
}
