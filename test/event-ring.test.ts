import t from 'tap'
import { EventRing } from '../src/replay/event-ring.ts'
import { memoryReplayStore } from '../src/replay/memory-replay-store.ts'
import type { RecordedAgentEvent } from '../src/schemas/index.ts'

const event = (seq: number): RecordedAgentEvent => ({
  type: 'thought',
  workflowId: 'wf',
  data: { content: `#${seq}` },
  timestamp: new Date(0).toISOString(),
  seq,
  id: `id-${seq}`,
})
const seqs = (events: RecordedAgentEvent[]): number[] => events.map((e) => e.seq)

t.test('keeps the newest `capacity` events, oldest first, across wrap-arounds', async (t) => {
  const ring = new EventRing(3)
  t.equal(ring.firstSeq, undefined)
  t.same(ring.after(0, 10), [])
  for (let seq = 1; seq <= 7; seq++) ring.push(event(seq), seq)
  t.equal(ring.size, 3)
  t.equal(ring.firstSeq, 5)
  t.same(seqs(ring.after(0, 10)), [5, 6, 7])
  t.same(seqs(ring.after(5, 10)), [6, 7])
  t.same(seqs(ring.after(4, 2)), [5, 6])
  t.same(ring.after(7, 10), [])
})

t.test('drops events recorded before a cutoff, then wraps around the freed slots', async (t) => {
  const ring = new EventRing(3)
  for (let seq = 1; seq <= 4; seq++) ring.push(event(seq), seq * 10)
  ring.dropOlderThan(35)
  t.equal(ring.size, 1)
  t.same(seqs(ring.after(0, 10)), [4])
  ring.push(event(5), 50)
  ring.push(event(6), 60)
  ring.push(event(7), 70)
  t.same(seqs(ring.after(0, 10)), [5, 6, 7])
  ring.dropOlderThan(1000)
  t.equal(ring.size, 0)
  t.equal(ring.firstSeq, undefined)
})

t.test('a ring of capacity 0 keeps nothing', async (t) => {
  const ring = new EventRing(0)
  ring.push(event(1), 1)
  t.equal(ring.size, 0)
  t.same(ring.after(0, 10), [])
})

t.test('the memory store records each event as a new object with exactly the wire keys', async (t) => {
  const store = memoryReplayStore({ maxEvents: 2 })
  t.teardown(() => store.close())
  const input = { type: 'thought', workflowId: 'wf', data: { content: 'a' }, timestamp: new Date(0).toISOString() } as const
  const first = await store.append(input)
  const second = await store.append({ ...input, data: { content: 'b' } })
  await store.append({ ...input, data: { content: 'c' } })
  t.not(first, input)
  t.same(Object.keys(first), ['type', 'workflowId', 'data', 'timestamp', 'seq', 'id'])
  t.match(first, { ...input, seq: 1 })
  t.equal(second.seq, 2)
  t.not(first.id, second.id)
  const range = await store.read('wf', { afterSeq: 0, limit: 10 })
  t.same(range.events.map((e) => e.data), [{ content: 'b' }, { content: 'c' }])
  t.match(range, { lastSeq: 3, truncated: true })
})

t.test('a ring that lost entries to age grows back to its capacity before it drops any', async (t) => {
  const ring = new EventRing(4)
  const event = (seq: number) => ({ type: 'thought', workflowId: 'wf', data: { content: '' }, timestamp: '', seq, id: String(seq) }) as const
  const seqsAfter = (afterSeq: number) => ring.after(afterSeq, 100).map((entry) => entry.seq)
  for (let seq = 1; seq <= 3; seq++) ring.push(event(seq), seq)
  t.same(seqsAfter(0), [1, 2, 3])
  ring.dropOlderThan(3) // ages out 1 and 2 before the ring ever filled
  t.same(seqsAfter(0), [3])
  for (let seq = 4; seq <= 6; seq++) ring.push(event(seq), seq)
  t.same(seqsAfter(0), [3, 4, 5, 6], 'it grew back to its capacity instead of shrinking')
  ring.push(event(7), 7)
  t.same(seqsAfter(0), [4, 5, 6, 7], 'at capacity the oldest goes')
  t.same(seqsAfter(5), [6, 7])
  t.equal(ring.firstSeq, 4)
  t.equal(ring.size, 4)
  ring.dropOlderThan(100)
  t.same(seqsAfter(0), [])
  t.equal(ring.firstSeq, undefined)
})
