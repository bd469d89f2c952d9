// The store behind `useWorkflow`, without React, against a real server and a real client: what
// React's useSyncExternalStore relies on (a snapshot that changes only when something changed,
// listeners told of it) and what the hook promises (a reset empties `events` and says why; one
// snapshot per burst; the run closed when the last listener leaves, kept when one comes back at
// once, as StrictMode does).
import t from 'tap'
import { WorkflowStore, type WorkflowView } from '../src/react/workflow-store.ts'
import { clientOf } from './client-helpers.ts'
import { connectAs, range, request, startServer, until, type SubscribeOk, type TestServer } from './helpers.ts'

/** Sockets of this server in the room of `workflowId`: its subscribers. */
function subscribers(server: TestServer, workflowId: string): number {
  return server.app.agentEvents.io.of('/').adapter.rooms.get(`workflow:${workflowId}`)?.size ?? 0
}

/** Subscribe to `store`, keeping every snapshot that a listener was told of. */
function watch(store: WorkflowStore): { views: WorkflowView[]; stop: () => void } {
  const views: WorkflowView[] = []
  const stop = store.subscribe(() => views.push(store.getSnapshot()))
  return { views, stop }
}

const seqsOf = (view: WorkflowView) => view.events.map((event) => event.seq)

t.test('a replay makes few snapshots; a snapshot is frozen and stays the same until something changes', async (t) => {
  const server = await startServer(t)
  for (const index of range(1, 200)) await server.app.agentEvents.emitThought('wf-store', `thought ${index}`)
  const store = new WorkflowStore(clientOf(t, server, 'ada'), 'wf-store')
  const before = store.getSnapshot()
  t.same(before, { events: [], messages: new Map(), status: 'subscribing', lastSeq: 0, error: undefined, reset: undefined })
  const { views } = watch(store)
  await until(() => store.getSnapshot().lastSeq === 200 && store.getSnapshot().status === 'live', 10_000)
  const view = store.getSnapshot()
  t.same(seqsOf(view), range(1, 200), 'every event once, in order')
  t.ok(views.length <= 5, `${views.length} snapshots for a replay of 200 events`)
  t.ok(Object.isFrozen(view) && Object.isFrozen(view.events), 'frozen')
  t.equal(store.getSnapshot(), view, 'the same object while nothing changes')

  const stream = server.app.agentEvents.stream('wf-store', { kind: 'result', messageId: 'answer' })
  stream.write('Hel')
  await until(() => store.getSnapshot().messages.get('answer')?.text === 'Hel', 10_000)
  const writing = store.getSnapshot()
  t.not(writing, view, 'a new object once an event came')
  t.equal(writing.events.slice(0, 200).every((event, index) => event === view.events[index]), true, 'the events it had are the same objects')
  stream.write('lo')
  await stream.end()
  await until(() => store.getSnapshot().messages.get('answer')?.done === true, 10_000)
  t.same(store.getSnapshot().messages.get('answer'), { kind: 'result', text: 'Hello', done: true }, 'the message, whole')
  t.same(writing.messages.get('answer'), { kind: 'result', text: 'Hel', done: false }, 'an older snapshot keeps what it showed')
})

t.test('a reset empties events and says why; the buffer\'s events follow', async (t) => {
  const server = await startServer(t)
  for (const index of range(1, 3)) await server.app.agentEvents.emitThought('wf-reset', `thought ${index}`)
  // A position from another life of the server's buffer: the client reports a reset.
  const items = new Map([['agent-events:wf-reset', JSON.stringify({ lastSeq: 7, epoch: 'an-older-epoch' })]])
  const storage = {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  }
  const store = new WorkflowStore(clientOf(t, server, 'ada', { storage }), 'wf-reset')
  watch(store)
  await until(() => store.getSnapshot().lastSeq === 3, 10_000)
  t.match(store.getSnapshot(), { reset: { reason: 'epoch' }, status: 'live', lastSeq: 3 })
  t.same(seqsOf(store.getSnapshot()), [1, 2, 3], 'the buffer\'s events, and nothing from before')
})

t.test('the run is closed when the last listener leaves, and kept when one comes back at once', async (t) => {
  const server = await startServer(t)
  const subscribes: string[] = []
  server.app.agentEvents.io.of('/').on('connection', (socket) => {
    socket.onAny((name: string, payload: { workflowId?: string }) => {
      if (name === 'agent:subscribe') subscribes.push(String(payload?.workflowId))
    })
  })
  const client = clientOf(t, server, 'ada')
  const store = new WorkflowStore(client, 'wf-close')
  const first = watch(store)
  await until(() => store.getSnapshot().status === 'live', 10_000)
  t.equal(subscribers(server, 'wf-close'), 1)

  // Unsubscribed and subscribed again in the same task, as StrictMode does on mount.
  first.stop()
  const second = watch(store)
  await new Promise((resolve) => setImmediate(resolve))
  await server.app.agentEvents.emitThought('wf-close', 'after the second subscribe')
  await until(() => store.getSnapshot().lastSeq === 1, 10_000)
  t.same(subscribes, ['wf-close'], 'one subscribe: the same run went on')
  t.equal(second.views.at(-1), store.getSnapshot(), 'the new listener is told of changes')

  second.stop()
  await until(() => subscribers(server, 'wf-close') === 0, 10_000)
  t.equal(client.status, 'online', 'the client stays connected')
})

t.test('a refusal is the view\'s status and error', async (t) => {
  const server = await startServer(t, { authorize: () => false })
  const store = new WorkflowStore(clientOf(t, server, 'ada'), 'wf-denied')
  watch(store)
  await until(() => store.getSnapshot().status === 'forbidden', 10_000)
  t.match(store.getSnapshot(), { status: 'forbidden', error: { code: 'FORBIDDEN' }, events: [] })
})

t.test('a resume with nothing missed turns the view live, told by the run (no event comes to say it)', async (t) => {
  const server = await startServer(t)
  for (const index of range(1, 3)) await server.app.agentEvents.emitThought('wf-resume', `thought ${index}`)
  const watcher = await connectAs(t, server, 'ada')
  const { epoch } = await request<SubscribeOk>(watcher, 'agent:subscribe', { workflowId: 'wf-resume' })
  watcher.disconnect()
  const items = new Map([['agent-events:wf-resume', JSON.stringify({ lastSeq: 3, epoch })]])
  const storage = {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
  }
  const store = new WorkflowStore(clientOf(t, server, 'ada', { storage }), 'wf-resume')
  const live = new Promise<WorkflowView>((resolve) => {
    store.subscribe(() => {
      if (store.getSnapshot().status === 'live') resolve(store.getSnapshot())
    })
  })
  t.match(await live, { status: 'live', lastSeq: 3, events: [] }, 'live, with nothing handed out')
})

t.test('a store over a closed client shows closed', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'ada')
  client.close()
  const store = new WorkflowStore(client, 'wf-after-close')
  const { views } = watch(store)
  t.equal(store.getSnapshot().status, 'closed', 'the run that follow() gave back closed is shown closed')
  // An exception in a client callback is thrown again on a timer of 0 (callApp): one turn of
  // timers lets any surface, and fail this test.
  await new Promise((resolve) => setTimeout(resolve, 0))
  t.ok(views.every((view) => view.status === 'closed'), 'and nothing else is told')
})
