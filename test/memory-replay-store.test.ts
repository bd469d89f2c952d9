import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import { memoryReplayStore } from '../src/index.ts'
import type { UnrecordedAgentEvent } from '../src/index.ts'

const thought = (workflowId: string, content = 'x'): UnrecordedAgentEvent => ({
  type: 'thought',
  workflowId,
  data: { content },
  timestamp: new Date().toISOString(),
})

t.test('seq is assigned per workflow, 1, 2, 3…, with unique ids', async (t) => {
  const store = memoryReplayStore()
  t.teardown(() => store.close())
  const a1 = await store.append(thought('a'))
  const a2 = await store.append(thought('a'))
  const b1 = await store.append(thought('b'))
  t.same([a1.seq, a2.seq, b1.seq], [1, 2, 1])
  t.not(a1.id, a2.id)
  t.same(Object.keys(a1), ['type', 'workflowId', 'data', 'timestamp', 'seq', 'id'])
})

t.test('read returns events after a seq, with lastSeq, epoch and truncated', async (t) => {
  const store = memoryReplayStore({ maxEvents: 3 })
  t.teardown(() => store.close())
  for (let i = 0; i < 5; i++) await store.append(thought('wf'))
  const all = await store.read('wf', { afterSeq: 0, limit: 10 })
  t.same(all.events.map((event) => event.seq), [3, 4, 5])
  t.equal(all.lastSeq, 5)
  t.equal(all.truncated, true)
  t.equal((await store.read('wf', { afterSeq: 2, limit: 10 })).truncated, false)
  t.same((await store.read('wf', { afterSeq: 3, limit: 1 })).events.map((event) => event.seq), [4])
  t.same(await store.read('wf', { afterSeq: 5, limit: 10 }), { events: [], lastSeq: 5, epoch: all.epoch, truncated: false })
  const unknown = await store.read('nothing', { afterSeq: 0, limit: 10 })
  t.same({ ...unknown, epoch: typeof unknown.epoch }, { events: [], lastSeq: 0, epoch: 'string', truncated: false })
})

t.test('two stores have different epochs', async (t) => {
  const one = memoryReplayStore()
  const two = memoryReplayStore()
  t.teardown(() => Promise.all([one.close(), two.close()]))
  await one.append(thought('wf'))
  await two.append(thought('wf'))
  const [a, b] = await Promise.all([one.read('wf', { afterSeq: 0, limit: 1 }), two.read('wf', { afterSeq: 0, limit: 1 })])
  t.not(a.epoch, b.epoch)
})

t.test('the least recently used workflows are forgotten first, and come back with a new epoch', async (t) => {
  const store = memoryReplayStore({ maxWorkflows: 2 })
  t.teardown(() => store.close())
  await store.append(thought('old'))
  const oldEpoch = (await store.read('old', { afterSeq: 0, limit: 1 })).epoch
  await store.append(thought('kept'))
  await store.read('old', { afterSeq: 0, limit: 1 }) // reading counts as use
  await store.append(thought('new'))
  t.same(store.stats(), { workflows: 2, events: 2 })
  t.equal((await store.read('old', { afterSeq: 0, limit: 1 })).lastSeq, 1, '"old" was used recently and stays')
  t.equal((await store.read('kept', { afterSeq: 0, limit: 1 })).lastSeq, 0, '"kept" was the least recently used')
  await store.append(thought('kept'))
  const kept = await store.read('kept', { afterSeq: 0, limit: 1 })
  t.equal(kept.lastSeq, 1, 'seq starts again at 1…')
  t.not(kept.epoch, oldEpoch, '…in a new epoch')
})

t.test('events older than ttl leave the buffer; idle workflows are forgotten', async (t) => {
  // TTL is about time passing, so this test waits for it (briefly) rather than for an event.
  const store = memoryReplayStore({ ttl: 200 })
  t.teardown(() => store.close())
  await store.append(thought('wf'))
  await delay(120)
  await store.append(thought('wf'))
  await delay(120)
  const read = await store.read('wf', { afterSeq: 0, limit: 10 })
  t.same(read.events.map((event) => event.seq), [2], 'the first event aged out')
  t.equal(read.truncated, true)
  await delay(450)
  t.same(store.stats(), { workflows: 0, events: 0 }, 'the sweep forgot the idle workflow')
})

t.test('memory stays within its bounds: 10,000 workflows of 100 events with the defaults', async (t) => {
  const store = memoryReplayStore()
  t.teardown(() => store.close())
  for (let w = 0; w < 10_000; w++) {
    const workflowId = `wf-${w}`
    for (let e = 0; e < 100; e++) await store.append(thought(workflowId))
  }
  t.same(store.stats(), { workflows: 10_000, events: 1_000_000 })
  for (let w = 0; w < 20; w++) for (let e = 0; e < 1100; e++) await store.append(thought(`big-${w}`))
  const stats = store.stats()
  t.equal(stats.workflows, 10_000, 'never more than maxWorkflows')
  t.ok(stats.events <= 10_000 * 1000, 'never more than maxEvents per workflow')
  t.equal((await store.read('big-19', { afterSeq: 0, limit: 5000 })).events.length, 1000, 'a workflow keeps its newest maxEvents')
})

t.test('bad store options throw', async (t) => {
  t.throws(() => memoryReplayStore({ maxEvents: -1 }), RangeError)
  t.throws(() => memoryReplayStore({ maxWorkflows: 0 }), RangeError)
  t.throws(() => memoryReplayStore({ ttl: 'never' }), RangeError)
})

t.test('watchers hear each append before it resolves, with the epoch of its buffer; a forgotten workflow comes back in a new epoch', async (t) => {
  const store = memoryReplayStore({ maxWorkflows: 1 })
  t.teardown(() => store.close())
  const heard: { workflowId: string; seq: number; epoch: string }[] = []
  const errors: Error[] = []
  const stop = store.watch({
    onEvent: (event, epoch) => heard.push({ workflowId: event.workflowId, seq: event.seq, epoch }),
    onError: (error) => errors.push(error),
  })
  const first = store.append(thought('wf'))
  t.equal(heard.length, 1, 'heard synchronously, before append resolved')
  await first
  await store.append(thought('wf'))
  const { epoch } = await store.read('wf', { afterSeq: 0, limit: 10 })
  t.same(heard, [{ workflowId: 'wf', seq: 1, epoch }, { workflowId: 'wf', seq: 2, epoch }])
  await store.append(thought('other')) // maxWorkflows: 1 pushes 'wf' out
  await store.append(thought('wf'))
  const last = heard.at(-1)
  t.match(last, { workflowId: 'wf', seq: 1 })
  t.not(last?.epoch, epoch, 'numbering starts again in a new epoch, which the watcher is told')
  await stop()
  await store.append(thought('wf'))
  t.equal(heard.length, 4, 'a stopped watcher hears nothing more')
  t.same(errors, [])
})

t.test('a watcher that throws is told through onError, and the append still resolves', async (t) => {
  const store = memoryReplayStore()
  t.teardown(() => store.close())
  const errors: Error[] = []
  store.watch({ onEvent: () => { throw new Error('boom') }, onError: (error) => errors.push(error) })
  const recorded = await store.append(thought('wf'))
  t.equal(recorded.seq, 1)
  t.equal(errors[0]?.message, 'boom')
})
