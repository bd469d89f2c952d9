import t from 'tap'
import { range, seqs, startServer, until } from './helpers.ts'
import { clientOf, follow, serverSockets, statusReached } from './client-helpers.ts'

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

t.test('after the server lets the socket go (io server disconnect), the client reconnects and resumes', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-1', 'one')
  await until(() => followed.events.length === 1)
  const offline = statusReached(client, 'offline')
  for (const socket of serverSockets(server)) socket.disconnect(true)
  await offline
  for (const n of range(2, 5)) await server.app.agentEvents.emitThought('wf-1', `while away ${n}`)
  await statusReached(client, 'online')
  await until(() => followed.events.length === 5)
  t.same(seqs(followed.events), range(1, 5))
  t.equal(followed.run.status, 'live')
})
