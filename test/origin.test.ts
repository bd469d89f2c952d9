import { request as httpRequest } from 'node:http'
import t, { type Test } from 'tap'
import { client, connectAs, refusal, startServer, type TestServer } from './helpers.ts'

const APP_ORIGIN = 'https://app.example.com'
type Transport = 'websocket' | 'polling'

function countConnections(server: TestServer): { count: number } {
  const counter = { count: 0 }
  server.app.agentEvents.io.of('/').on('connection', () => counter.count++)
  return counter
}

/** A real socket.io-client on one transport only, sending `origin` as its Origin header. */
async function connectFrom(t: Test, server: TestServer, origin: string, transport: Transport): Promise<'connected' | 'refused'> {
  const socket = client(t, server, {
    auth: { token: server.token('alice') },
    transports: [transport],
    extraHeaders: { origin },
  })
  try {
    await refusal(socket)
    return 'refused'
  } catch {
    return 'connected'
  }
}

/** A polling handshake made by hand, so the Origin header is exactly what the test says. */
function pollingHandshake(server: TestServer, origin: string | undefined): Promise<{ status: number; allowOrigin: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}/socket.io/?EIO=4&transport=polling`, {
      headers: origin === undefined ? {} : { origin },
    })
    req.on('response', (response) => {
      response.resume()
      response.on('end', () => {
        const allowOrigin = response.headers['access-control-allow-origin']
        resolve({ status: response.statusCode ?? 0, allowOrigin: Array.isArray(allowOrigin) ? allowOrigin[0] : allowOrigin })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('default policy is same-origin, on both transports', async (t) => {
  const server = await startServer(t)
  const connections = countConnections(server)
  for (const transport of ['websocket', 'polling'] as const) {
    t.equal(await connectFrom(t, server, 'https://evil.example', transport), 'refused', `${transport}: a foreign Origin is refused`)
    t.equal(await connectFrom(t, server, server.url.replace('127.0.0.1', 'localhost'), transport), 'refused', `${transport}: another host name is refused`)
    const otherPort = server.url.replace(/:(\d+)$/, (_, port: string) => `:${Number(port) + 1}`)
    t.equal(await connectFrom(t, server, otherPort, transport), 'refused', `${transport}: another port is refused`)
    t.equal(await connectFrom(t, server, 'null', transport), 'refused', `${transport}: Origin "null" is refused`)
  }
  t.equal(connections.count, 0, 'no refused handshake reached `connection`, though each carried a valid token')
  t.equal(await connectFrom(t, server, server.url, 'websocket'), 'connected', 'websocket: the same origin connects')
  t.equal(await connectFrom(t, server, server.url, 'polling'), 'connected', 'polling: the same origin connects')
})

t.test('a client without Origin (a server-side client) is judged by its token alone', async (t) => {
  const server = await startServer(t, { cors: { origin: [APP_ORIGIN] } })
  const socket = await connectAs(t, server, 'alice')
  t.ok(socket.connected, 'websocket without Origin connects')
  const polling = await connectAs(t, server, 'bob', { transports: ['polling'] })
  t.ok(polling.connected, 'polling without Origin connects')
  const error = await refusal(client(t, server, { auth: { token: 'forged' } }))
  t.equal(error.data?.code, 'AUTH_INVALID', 'and its token still has to be good')
})

t.test('an allow-list is matched exactly, on both transports', async (t) => {
  const server = await startServer(t, { cors: { origin: [APP_ORIGIN, 'http://localhost:5173'] } })
  const connections = countConnections(server)
  const forged = [
    'https://app.example.com.evil.com',
    'https://evil.com',
    'https://evilapp.example.com',
    'https://sub.app.example.com',
    'http://app.example.com',
    'https://app.example.com:8443',
    'https://APP.EXAMPLE.COM',
    'https://app.example.com/',
    'http://localhost:5174',
    'null',
    server.url,
  ]
  for (const transport of ['websocket', 'polling'] as const) {
    for (const origin of forged) {
      t.equal(await connectFrom(t, server, origin, transport), 'refused', `${transport}: ${origin} refused`)
    }
  }
  t.equal(connections.count, 0, 'none of them reached `connection`')
  for (const transport of ['websocket', 'polling'] as const) {
    t.equal(await connectFrom(t, server, APP_ORIGIN, transport), 'connected', `${transport}: ${APP_ORIGIN} connects`)
    t.equal(await connectFrom(t, server, 'http://localhost:5173', transport), 'connected', `${transport}: the second entry connects`)
  }
  t.equal(connections.count, 4)
})

t.test('the refusal happens at the HTTP handshake, before any session exists', async (t) => {
  const server = await startServer(t, { cors: { origin: APP_ORIGIN } })
  const refused = await pollingHandshake(server, 'https://app.example.com.evil.com')
  t.equal(refused.status, 403, 'a forged Origin gets 403 on the polling handshake')
  t.not(refused.allowOrigin, 'https://app.example.com.evil.com', 'and no CORS grant for it')
  const allowed = await pollingHandshake(server, APP_ORIGIN)
  t.equal(allowed.status, 200)
  t.equal(allowed.allowOrigin, APP_ORIGIN, 'the allowed origin gets its CORS grant')
  const serverSide = await pollingHandshake(server, undefined)
  t.equal(serverSide.status, 200, 'no Origin: the engine handshake proceeds (the token is checked next)')
})
