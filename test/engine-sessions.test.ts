import t from 'tap'
import { openEngineSession, pollingHandshake, TRANSPORTS } from './engine-client.ts'
import { client, connectAs, refusal, startServer, until, waitFor } from './helpers.ts'

// connectTimeout is long here, so that whatever closes a session early is the connection limit.
const LONG_CONNECT_TIMEOUT = { connectTimeout: 60_000 }

for (const transport of TRANSPORTS) {
  t.test(`${transport}: bare engine.io sessions count against the connection limit`, async (t) => {
    const server = await startServer(t, {
      rateLimit: { connection: { max: 3, timeWindow: '1 minute' } },
      socketio: LONG_CONNECT_TIMEOUT,
    })
    const io = server.app.agentEvents.io
    for (let n = 0; n < 3; n++) await openEngineSession(t, server, transport)
    t.equal(io.engine.clientsCount, 3, 'three sessions that never asked for a namespace')

    const error = await refusal(client(t, server, { transports: [transport], auth: { token: server.token('alice') } }))
    t.equal(error.message, 'Too many connection attempts', 'the next Socket.IO client is over the limit')
    t.equal(error.data?.code, 'RATE_LIMITED')
    const retryAfterMs = error.data?.retryAfterMs
    t.ok(typeof retryAfterMs === 'number' && retryAfterMs > 0 && retryAfterMs <= 60_000, 'with retryAfterMs within the window')
    await until(() => io.engine.clientsCount === 3)
    t.pass('the refused client\'s session is gone')
  })

  t.test(`${transport}: a session over the limit that sends no CONNECT is closed by the server`, async (t) => {
    const server = await startServer(t, {
      rateLimit: { connection: { max: 1, timeWindow: '1 minute' } },
      socketio: LONG_CONNECT_TIMEOUT,
    })
    const io = server.app.agentEvents.io
    await openEngineSession(t, server, transport)
    const over = await openEngineSession(t, server, transport)
    const reason = await Promise.race([
      over.closed,
      new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 10_000).unref()),
    ])
    t.not(reason, 'still open', `closed long before connectTimeout (${reason})`)
    t.same(over.messages, [], 'it was told nothing, having asked nothing')
    await until(() => io.engine.clientsCount === 1)
    t.pass('only the session within the limit is left')
  })

  t.test(`${transport}: a session over the limit that asks for the namespace gets RATE_LIMITED, then is closed`, async (t) => {
    const server = await startServer(t, {
      rateLimit: { connection: { max: 1, timeWindow: '1 minute' } },
      socketio: LONG_CONNECT_TIMEOUT,
    })
    await openEngineSession(t, server, transport)
    const over = await openEngineSession(t, server, transport)
    over.socket.send(`0{"token":"${server.token('alice')}"}`)
    const refused = JSON.parse((await over.next('4')).slice(1)) as { message: string; data: { code: string; retryAfterMs: number } }
    t.equal(refused.message, 'Too many connection attempts')
    t.equal(refused.data.code, 'RATE_LIMITED')
    t.type(refused.data.retryAfterMs, 'number')
    await over.closed
    t.pass('the server closed it')
  })
}

t.test('a flood of polling handshakes from one address opens few sessions, briefly', async (t) => {
  const server = await startServer(t, {
    rateLimit: { connection: { max: 5, timeWindow: '1 minute' } },
    socketio: LONG_CONNECT_TIMEOUT,
  })
  const io = server.app.agentEvents.io
  let opened = 0
  let mostOpenAtOnce = 0
  io.engine.on('connection', () => {
    opened++
    mostOpenAtOnce = Math.max(mostOpenAtOnce, io.engine.clientsCount)
  })
  const responses = await Promise.all(Array.from({ length: 300 }, () => pollingHandshake(server)))
  const statuses = responses.map((response) => response.status)
  t.equal(statuses.filter((status) => status === 403).length, 300 - opened, `every handshake not opened (${300 - opened}) was refused outright`)
  t.ok(mostOpenAtOnce <= 5 + 8, `never more than the five within the limit and eight refusals open at once (${mostOpenAtOnce})`)
  await until(() => io.engine.clientsCount === 5, 10_000)
  t.pass('the sessions over the limit are gone; the five within it wait for their connectTimeout')
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') } }))
  t.equal(error.data?.code, 'RATE_LIMITED', 'and a Socket.IO client from that address is still told why')
})

t.test('every CONNECT after the first on one session is counted too', async (t) => {
  const server = await startServer(t, {
    namespace: '/agents',
    rateLimit: { connection: { max: 3, timeWindow: '1 minute' } },
    socketio: LONG_CONNECT_TIMEOUT,
  })
  const session = await openEngineSession(t, server, 'websocket')
  const codes: string[] = []
  for (let n = 0; n < 4; n++) {
    session.socket.send('0/agents,{"token":"not-a-token"}')
    await until(() => session.messages.length === n + 1)
    codes.push((JSON.parse(session.messages[n]!.slice('4/agents,'.length)) as { data: { code: string } }).data.code)
  }
  t.same(codes, ['AUTH_INVALID', 'AUTH_INVALID', 'AUTH_INVALID', 'RATE_LIMITED'], 'one session, four guesses: the fourth is over a limit of three')
})

t.test('sessions within the limit connect as before, one count each, an upgrade included', async (t) => {
  const server = await startServer(t, { rateLimit: { connection: { max: 3, timeWindow: '1 minute' } } })
  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']] as const) {
    const socket = await connectAs(t, server, 'alice', { transports: [...transports] })
    t.ok(socket.connected, `${transports.join(' then ')}: connected`)
    if (transports.length === 2 && socket.io.engine.transport.name !== 'websocket') await waitFor(socket.io.engine as never, 'upgrade')
  }
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') } }))
  t.equal(error.data?.code, 'RATE_LIMITED', 'the fourth session is over a limit of three: the upgrade did not count')
})

t.test('fastify.close() does not wait for a bare session\'s long poll', async (t) => {
  // With pings a minute apart, only the plugin can end the held poll in time.
  const server = await startServer(t, { socketio: { ...LONG_CONNECT_TIMEOUT, pingInterval: 60_000 } })
  const sessions: { transport: { writable: boolean } }[] = []
  server.app.agentEvents.io.engine.on('connection', (session: { transport: { writable: boolean } }) => sessions.push(session))
  const bare = await openEngineSession(t, server, 'polling')
  await until(() => sessions[0]?.transport.writable === true)
  const result = await Promise.race([
    server.app.close().then(() => 'closed'),
    new Promise<string>((resolve) => setTimeout(() => resolve('still closing'), 10_000).unref()),
  ])
  t.equal(result, 'closed')
  await bare.closed
})
