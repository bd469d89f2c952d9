// Several runs of one workflow on one client (two views of the same run, a component mounted
// while another still shows it): the server takes one subscription per workflow and connection,
// so the client shares it, and each run still gets every event once, in order.
import t from 'tap'
import { range, seqs, startServer, until } from './helpers.ts'
import { clientOf, follow, serverSockets, statusReached } from './client-helpers.ts'

const inRoom = (server: Parameters<typeof serverSockets>[0], workflowId: string): boolean =>
  serverSockets(server).some((socket) => [...socket.rooms].some((room) => room.endsWith(workflowId)))

t.test('a second run of a followed workflow gets the whole buffer, the first misses nothing and is not reset', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const first = follow(client, 'wf-1')
  for (const n of range(1, 5)) await server.app.agentEvents.emitThought('wf-1', `before ${n}`)
  await until(() => first.events.length === 5)
  const second = follow(client, 'wf-1')
  // Emitted while the second run's subscribe is under way.
  for (const n of range(6, 8)) await server.app.agentEvents.emitThought('wf-1', `joining ${n}`)
  await until(() => second.run.status === 'live' && second.events.length === 8 && first.events.length === 8)
  for (const n of range(9, 10)) await server.app.agentEvents.emitThought('wf-1', `live ${n}`)
  await until(() => first.events.length === 10 && second.events.length === 10)
  t.same(seqs(first.events), range(1, 10), 'the first run: each event once, in order')
  t.same(seqs(second.events), range(1, 10), 'the second run: the buffer, then live')
  t.same(first.resets, [], 'the first run was not reset')
  t.same([...first.errors, ...second.errors], [], 'no refusal')
  t.equal(first.run.status, 'live')
})

t.test('closing one run keeps the others; closing the last leaves the room', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const first = follow(client, 'wf-1')
  const second = follow(client, 'wf-1')
  await until(() => first.run.status === 'live' && second.run.status === 'live')
  first.run.close()
  await server.app.agentEvents.emitThought('wf-1', 'after the first closed')
  await until(() => second.events.length === 1)
  t.equal(first.events.length, 0, 'a closed run hears nothing')
  t.ok(inRoom(server, 'wf-1'), 'the socket still follows the workflow')
  second.run.close()
  await until(() => !inRoom(server, 'wf-1'))
  t.pass('the socket left the workflow\'s room with the last run')
})

t.test('a run ahead of a truncated replay is not reset: the replay reaches back to it', async (t) => {
  const server = await startServer(t, { replay: { maxEvents: 3 } })
  const client = clientOf(t, server, 'u1')
  const first = follow(client, 'wf-1')
  await until(() => first.run.status === 'live')
  for (const n of range(1, 10)) await server.app.agentEvents.emitThought('wf-1', `event ${n}`)
  await until(() => first.events.length === 10)
  const second = follow(client, 'wf-1')
  await until(() => second.run.status === 'live' && first.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-1', 'live 11')
  await until(() => first.events.length === 11 && second.events.length === 4)
  t.same(seqs(first.events), range(1, 11))
  t.same(seqs(second.events), range(8, 11), 'the second run: what the buffer holds, then live')
  t.same(first.resets, [], 'the first run keeps what it has')
  t.same(second.resets, [], 'a first subscribe never resets')
})

t.test('after the server lets the socket go, every run of the workflow resumes exactly once', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const first = follow(client, 'wf-1')
  const second = follow(client, 'wf-1')
  await server.app.agentEvents.emitThought('wf-1', 'one')
  await until(() => first.events.length === 1 && second.events.length === 1)
  const offline = statusReached(client, 'offline')
  for (const socket of serverSockets(server)) socket.disconnect(true)
  await offline
  for (const n of range(2, 4)) await server.app.agentEvents.emitThought('wf-1', `while away ${n}`)
  await until(() => first.events.length === 4 && second.events.length === 4)
  t.same(seqs(first.events), range(1, 4))
  t.same(seqs(second.events), range(1, 4))
  t.same([...first.errors, ...second.errors], [])
})
