// The token is refreshed with auth:refresh about 30 s before its exp, on the same socket.
import t from 'tap'
import { range, seqs, startServer, until } from './helpers.ts'
import { clientOf, follow, serverSockets } from './client-helpers.ts'

t.test('a refresh before exp keeps the same socket past the first token\'s expiry', async (t) => {
  const server = await startServer(t)
  let calls = 0
  // Tokens of 3 seconds are inside the 30 s margin from the start: each is refreshed at once.
  const token = (): string => {
    calls++
    return server.app.jwt.sign({ sub: 'u1' }, { expiresIn: '3s' })
  }
  const firstExpiry = Date.now() + 3000
  const client = clientOf(t, server, 'u1', { token })
  const statuses: string[] = []
  client.on('status', (status) => statuses.push(status))
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  const [socket] = serverSockets(server)
  let disconnected = false
  socket!.on('disconnect', () => { disconnected = true })
  // The server disconnects an expired socket within a second of exp: wait past that.
  await until(() => Date.now() > firstExpiry + 1500, 10_000)
  await server.app.agentEvents.emitThought('wf-1', 'still here')
  await until(() => followed.events.length === 1)
  t.notOk(disconnected, 'the socket was never disconnected')
  t.same(serverSockets(server).map((s) => s.id), [socket!.id], 'the same socket, still the only one')
  t.same(statuses, ['online'], 'the client never went offline')
  t.ok(calls >= 3, `token() was asked at the handshake and at each refresh (${calls} calls)`)
})

t.test('a refused refresh reconnects with a fresh token', async (t) => {
  const server = await startServer(t)
  let calls = 0
  const token = (): string => {
    calls++
    // The handshake's token is due for refresh at once; the refresh gets another user's token (FORBIDDEN).
    if (calls === 1) return server.app.jwt.sign({ sub: 'u1' }, { expiresIn: '20s' })
    if (calls === 2) return server.token('someone-else')
    return server.token('u1')
  }
  const client = clientOf(t, server, 'u1', { token })
  const refusals: string[] = []
  client.on('error', (error) => refusals.push(error.code))
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  const [first] = serverSockets(server)
  await server.app.agentEvents.emitThought('wf-1', 'one')
  await until(() => refusals.length === 1, 10_000)
  await server.app.agentEvents.emitThought('wf-1', 'two')
  await until(() => followed.events.length === 2 && serverSockets(server).length === 1 && serverSockets(server)[0]!.id !== first!.id)
  t.same(refusals, ['FORBIDDEN'])
  t.same(seqs(followed.events), range(1, 2))
  t.equal(calls, 3, 'the new handshake asked token() again')
})
