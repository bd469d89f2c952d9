import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { Server } from 'socket.io'
import t from 'tap'
import agentEvents from '../src/index.ts'
import { openEngineSession, TRANSPORTS } from './engine-client.ts'
import { client, connectAs, refusal, SECRET, startServer, until, type TestServer } from './helpers.ts'

const agentsUrl = (server: TestServer): TestServer => ({ ...server, url: `${server.url}/agents` })

t.test('with namespace /agents, the main namespace refuses every client, token or not', async (t) => {
  const server = await startServer(t, { namespace: '/agents' })
  let mainConnections = 0
  server.app.agentEvents.io.of('/').on('connection', () => mainConnections++)
  for (const transport of TRANSPORTS) {
    const tokenless = await refusal(client(t, server, { transports: [transport] }))
    t.equal(tokenless.message, 'Invalid namespace', `${transport}: a tokenless client is refused as by an unknown namespace`)
    t.equal(tokenless.data, undefined, `${transport}: with nothing more`)
    const withToken = await refusal(client(t, server, { transports: [transport], auth: { token: server.token('alice') } }))
    t.equal(withToken.message, 'Invalid namespace', `${transport}: a token does not open the main namespace either`)
  }
  t.equal(mainConnections, 0, 'nobody reached the main namespace')
  const agents = await connectAs(t, agentsUrl(server), 'alice')
  t.ok(agents.connected, 'the plugin\'s namespace accepts as before')
  t.equal(server.app.agentEvents.getUserId(agents.id as string), 'alice')
})

t.test('namespaces created later, dynamic ones included, refuse connections too', async (t) => {
  const server = await startServer(t, { namespace: '/agents' })
  let otherConnections = 0
  server.app.agentEvents.io.of('/other').on('connection', () => otherConnections++)
  server.app.agentEvents.io.of(/^\/dynamic-\w+$/).on('connection', () => otherConnections++)
  for (const name of ['/other', '/dynamic-1', '/unknown']) {
    const error = await refusal(client(t, { ...server, url: `${server.url}${name}` }, { auth: { token: server.token('alice') } }))
    t.equal(error.message, 'Invalid namespace', name)
  }
  t.equal(otherConnections, 0)
})

t.test('with the default namespace /, every other namespace is refused', async (t) => {
  const server = await startServer(t)
  server.app.agentEvents.io.of('/other').on('connection', () => t.fail('connected to /other'))
  const error = await refusal(client(t, { ...server, url: `${server.url}/other` }, { auth: { token: server.token('alice') } }))
  t.equal(error.message, 'Invalid namespace')
  const main = await connectAs(t, server, 'alice')
  t.ok(main.connected)
})

for (const transport of TRANSPORTS) {
  t.test(`${transport}: a session refused at the main namespace holds nothing once connectTimeout passes`, async (t) => {
    const server = await startServer(t, { namespace: '/agents', socketio: { connectTimeout: 1500 } })
    const session = await openEngineSession(t, server, transport)
    session.socket.send('0')
    session.socket.send('0')
    await until(() => session.messages.length === 2)
    t.same(session.messages, ['4{"message":"Invalid namespace"}', '4{"message":"Invalid namespace"}'], 'each CONNECT to / gets CONNECT_ERROR')
    t.equal(await session.closed, 'transport close', 'the server closed the session, which joined nothing')
    await until(() => server.app.agentEvents.io.engine.clientsCount === 0)
    t.equal(server.app.agentEvents.io.of('/').sockets.size, 0, 'no socket was kept')
  })
}

t.test('a polling session that asks for / and never polls again is dropped when connectTimeout passes', async (t) => {
  const server = await startServer(t, { namespace: '/agents', socketio: { connectTimeout: 300 } })
  const base = `${server.url}/socket.io/?EIO=4&transport=polling`
  const open = await (await fetch(base)).text()
  const { sid } = JSON.parse(open.slice(1)) as { sid: string }
  const connect = await fetch(`${base}&sid=${sid}`, { method: 'POST', body: '40', headers: { 'content-type': 'text/plain' } })
  t.equal(connect.status, 200, 'the CONNECT to / was taken')
  t.equal(server.app.agentEvents.io.engine.clientsCount, 1)
  // engine.io's orderly close would wait 30 s for a poll that never comes.
  await until(() => server.app.agentEvents.io.engine.clientsCount === 0, 10_000)
  t.pass('the session is gone')
})

t.test('an app\'s own fastify.io keeps its namespaces: the app decides there', async (t) => {
  const app = Fastify()
  const io = new Server(app.server)
  app.decorate('io', io)
  t.teardown(async () => {
    await app.close()
    await io.close()
  })
  await app.register(fastifyJwt, { secret: SECRET })
  await app.register(agentEvents, { namespace: '/agents' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const server = { app, url: `http://127.0.0.1:${port}`, token: (sub: string) => app.jwt.sign({ sub }, { expiresIn: '1h' }) }
  const main = client(t, server)
  main.connect()
  await new Promise<void>((resolve) => main.once('connect', () => resolve()))
  t.ok(main.connected, 'the app\'s main namespace is the app\'s')
})
