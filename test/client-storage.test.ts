// `storage` keeps each workflow's lastSeq and epoch, so a new client (a reloaded page) resumes
// where the last one stopped instead of replaying what it had handed out.
import t from 'tap'
import type { PositionStorage } from '../src/client/index.ts'
import { range, seqs, startServer, until } from './helpers.ts'
import { clientOf, follow } from './client-helpers.ts'

/** What a page's sessionStorage is, kept in a Map. */
function mapStorage(): PositionStorage & { values: Map<string, string> } {
  const values = new Map<string, string>()
  return {
    values,
    getItem: (key) => values.get(key) ?? null,
    setItem: (key, value) => void values.set(key, value),
    removeItem: (key) => void values.delete(key),
  }
}

t.test('a second client with the same storage continues without replaying what was handed out', async (t) => {
  const server = await startServer(t)
  const storage = mapStorage()
  for (const n of range(1, 3)) await server.app.agentEvents.emitThought('wf-1', `event ${n}`)
  const before = clientOf(t, server, 'u1', { storage })
  const first = follow(before, 'wf-1')
  await until(() => first.events.length === 3)
  before.close()
  t.equal(first.run.status, 'closed')
  t.match(JSON.parse(storage.values.get('agent-events:wf-1') as string), { lastSeq: 3, epoch: first.run.epoch })

  for (const n of range(4, 5)) await server.app.agentEvents.emitThought('wf-1', `event ${n}`)
  const second = follow(clientOf(t, server, 'u1', { storage }), 'wf-1')
  t.equal(second.run.lastSeq, 3, 'the run starts from the stored position')
  await until(() => second.events.length === 2)
  t.same(seqs(second.events), [4, 5])
  t.same(second.resets, [])
})

t.test('a stored position from another epoch gives a reset, then the whole buffer', async (t) => {
  const server = await startServer(t)
  const storage = mapStorage()
  storage.setItem('agent-events:wf-1', JSON.stringify({ lastSeq: 40, epoch: 'an-old-epoch' }))
  for (const n of range(1, 2)) await server.app.agentEvents.emitThought('wf-1', `event ${n}`)
  const followed = follow(clientOf(t, server, 'u1', { storage }), 'wf-1')
  await until(() => followed.events.length === 2)
  t.same(followed.log, ['reset:epoch', 1, 2])
  t.match(JSON.parse(storage.values.get('agent-events:wf-1') as string), { lastSeq: 2 })
})

t.test('a refused run forgets its stored position; a storage that throws costs nothing but the resume', async (t) => {
  const server = await startServer(t, { authorize: ({ workflowId }) => workflowId !== 'wf-secret' })
  const storage = mapStorage()
  storage.setItem('agent-events:wf-secret', JSON.stringify({ lastSeq: 4, epoch: 'e' }))
  const refused = follow(clientOf(t, server, 'u1', { storage }), 'wf-secret')
  await until(() => refused.run.status === 'forbidden')
  t.notOk(storage.values.has('agent-events:wf-secret'))

  const broken: PositionStorage = {
    getItem: () => { throw new Error('SecurityError') },
    setItem: () => { throw new Error('QuotaExceededError') },
    removeItem: () => { throw new Error('SecurityError') },
  }
  const followed = follow(clientOf(t, server, 'u1', { storage: broken }), 'wf-1')
  await until(() => followed.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-1', 'delivered anyway')
  await until(() => followed.events.length === 1)
})
