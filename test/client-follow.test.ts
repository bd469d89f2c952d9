import t from 'tap'
import { range, seqs, startServer, until } from './helpers.ts'
import { clientOf, follow, serverSockets } from './client-helpers.ts'

t.test('follow hands out every event once, in seq order, replay first then live', async (t) => {
  const server = await startServer(t)
  for (const n of range(1, 3)) await server.app.agentEvents.emitThought('wf-1', `before ${n}`)
  const client = clientOf(t, server, 'u1')
  const followed = follow(client, 'wf-1')
  t.equal(followed.run.status, 'subscribing')
  await until(() => followed.run.status === 'live')
  t.equal(client.status, 'online')
  for (const n of range(4, 6)) await server.app.agentEvents.emitThought('wf-1', `live ${n}`)
  await until(() => followed.events.length === 6)
  t.same(seqs(followed.events), range(1, 6))
  t.equal(followed.run.lastSeq, 6)
  t.type(followed.run.epoch, 'string')
})

t.test('a run is an async iterator; a for await that breaks closes the run and unsubscribes', async (t) => {
  const server = await startServer(t)
  for (const n of range(1, 5)) await server.app.agentEvents.emitThought('wf-1', `event ${n}`)
  const client = clientOf(t, server, 'u1')
  const run = client.follow('wf-1')
  const seen: number[] = []
  for await (const event of run) {
    seen.push(event.seq as number)
    if (seen.length === 3) break
  }
  t.same(seen, [1, 2, 3])
  t.equal(run.status, 'closed')
  await until(() => ![...serverSockets(server)[0]!.rooms].some((room) => room.endsWith('wf-1')))
  t.pass('the socket left the workflow\'s room')
})

t.test('run.close() stops one run; the client goes on with the others; client.close() ends everything', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const statuses: string[] = []
  const stop = client.on('status', (status) => statuses.push(status))
  const kept = follow(client, 'wf-1')
  const dropped = follow(client, 'wf-2')
  await until(() => kept.run.status === 'live' && dropped.run.status === 'live')
  dropped.run.close()
  await server.app.agentEvents.emitThought('wf-2', 'not for the closed run')
  await server.app.agentEvents.emitThought('wf-1', 'for the open run')
  await until(() => kept.events.length === 1)
  t.same(dropped.events, [])
  client.close()
  t.equal(kept.run.status, 'closed')
  t.equal(client.status, 'offline')
  stop()
  t.same(statuses, ['online', 'offline'])
  t.equal(client.follow('wf-3').status, 'closed', 'a closed client hands out closed runs')
})

t.test('an onEvent that throws does not stop the events after it; its exception is thrown on its own', async (t) => {
  const server = await startServer(t)
  for (const n of range(1, 3)) await server.app.agentEvents.emitThought('wf-1', `event ${n}`)
  const thrown: unknown[] = []
  const onUncaught = (error: unknown): void => void thrown.push(error)
  // tap reports uncaught exceptions as failures: this test takes the ones it causes.
  const listeners = process.rawListeners('uncaughtException')
  process.removeAllListeners('uncaughtException')
  process.on('uncaughtException', onUncaught)
  t.teardown(() => {
    process.off('uncaughtException', onUncaught)
    for (const listener of listeners) process.on('uncaughtException', listener as (error: Error) => void)
  })
  const followed = follow(clientOf(t, server, 'u1'), 'wf-1', {
    onEvent: (event) => { if (event.seq === 2) throw new Error('render failed') },
  })
  await until(() => followed.events.length === 3 && thrown.length === 1)
  t.same(seqs(followed.events), [1, 2, 3])
  t.match(thrown, [{ message: 'render failed' }])
})
