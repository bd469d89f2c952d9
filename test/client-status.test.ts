// A run tells each change of its status (`onStatus`, `run.on('status', fn)`), also where no event
// says it: a resume with nothing missed turns live without handing anything out.
import t from 'tap'
import type { PositionStorage, RunStatus } from '../src/client/index.ts'
import { connectAs, range, request, seqs, startServer, until, type SubscribeOk } from './helpers.ts'
import { clientOf, follow, runStatusReached, serverSockets, statusReached } from './client-helpers.ts'

/** A page's sessionStorage, kept in a Map. */
function mapStorage(): PositionStorage {
  const values = new Map<string, string>()
  return {
    getItem: (key) => values.get(key) ?? null,
    setItem: (key, value) => void values.set(key, value),
    removeItem: (key) => void values.delete(key),
  }
}

t.test('a run resumed with nothing missed reports live without any event, and again after a reconnect', async (t) => {
  const server = await startServer(t)
  for (const n of range(1, 3)) await server.app.agentEvents.emitThought('wf-1', `event ${n}`)
  // The position a page stored after it was handed 1..3: nothing is left to replay.
  const watcher = await connectAs(t, server, 'u1')
  const { epoch } = await request<SubscribeOk>(watcher, 'agent:subscribe', { workflowId: 'wf-1' })
  watcher.disconnect()
  const storage = mapStorage()
  storage.setItem('agent-events:wf-1', JSON.stringify({ lastSeq: 3, epoch }))

  const client = clientOf(t, server, 'u1', { storage })
  const followed = follow(client, 'wf-1')
  const heard: RunStatus[] = []
  followed.run.on('status', (status) => heard.push(status))
  t.equal(followed.run.status, 'subscribing')
  await runStatusReached(followed.run, 'live')
  t.same(followed.statuses, ['live'], 'onStatus told live once')
  t.same(heard, ['live'], 'run.on(\'status\') told the same')
  t.same(followed.events, [], 'with no event handed out')
  t.equal(followed.run.lastSeq, 3)

  const subscribing = runStatusReached(followed.run, 'subscribing')
  for (const socket of serverSockets(server)) socket.disconnect(true)
  await subscribing
  await statusReached(client, 'online')
  await runStatusReached(followed.run, 'live')
  t.same(followed.statuses, ['live', 'subscribing', 'live'], 'a disconnect says subscribing, the resubscribe live')
  t.same(followed.events, [], 'still nothing missed')
  await server.app.agentEvents.emitThought('wf-1', 'event 4')
  await until(() => followed.events.length === 1)
  t.same(seqs(followed.events), [4])
})

t.test('FORBIDDEN reports forbidden, after onError; the run was never live', async (t) => {
  const server = await startServer(t, { authorize: ({ workflowId }) => workflowId !== 'wf-secret' })
  const order: string[] = []
  const followed = follow(clientOf(t, server, 'u1'), 'wf-secret', {
    onError: (error) => order.push(`error:${error.code}`),
    onStatus: (status) => order.push(`status:${status}`),
  })
  await runStatusReached(followed.run, 'forbidden')
  t.same(order, ['error:FORBIDDEN', 'status:forbidden'], 'the refusal is known before the final status is told')
  t.same(followed.statuses, ['forbidden'])
})

t.test('TOO_MANY_SUBSCRIPTIONS reports closed', async (t) => {
  const server = await startServer(t, { maxSubscriptions: 1 })
  const client = clientOf(t, server, 'u1')
  const first = follow(client, 'wf-1')
  await runStatusReached(first.run, 'live')
  const second = follow(client, 'wf-2')
  await runStatusReached(second.run, 'closed')
  t.same(second.statuses, ['closed'])
  t.match(second.errors, [{ code: 'TOO_MANY_SUBSCRIPTIONS' }])
  t.same(first.statuses, ['live'], 'the other run heard nothing more')
})

t.test('closing tells closed once; a listener that stopped listening hears nothing', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const one = follow(client, 'wf-1')
  const two = follow(client, 'wf-2')
  const stoppedHeard: RunStatus[] = []
  const stop = two.run.on('status', (status) => stoppedHeard.push(status))
  await Promise.all([runStatusReached(one.run, 'live'), runStatusReached(two.run, 'live')])
  stop()
  one.run.close()
  one.run.close()
  t.same(one.statuses, ['live', 'closed'], 'run.close() tells closed, once')
  client.close()
  t.same(two.statuses, ['live', 'closed'], 'client.close() tells every run')
  t.same(stoppedHeard, ['live'], 'nothing after the listener stopped')

  const late = follow(client, 'wf-3')
  t.same(late.statuses, ['closed'], 'a run of a closed client is closed at once, and says so')
})

t.test('a listener that closes the run on live: every listener hears the statuses in order', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const followed = follow(client, 'wf-1', { onStatus: (status) => status === 'live' && followed.run.close() })
  const heard: RunStatus[] = []
  followed.run.on('status', (status) => heard.push(status))
  await runStatusReached(followed.run, 'closed')
  t.same(followed.statuses, ['live', 'closed'])
  t.same(heard, ['closed'], 'a later listener is not told live after closed')
})
