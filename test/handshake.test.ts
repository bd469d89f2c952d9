import { createHmac } from 'node:crypto'
import t from 'tap'
import { client, connectAs, refusal, SECRET, startServer } from './helpers.ts'

function hs256(payload: Record<string, unknown>, secret = SECRET): string {
  const encode = (part: unknown): string => Buffer.from(JSON.stringify(part)).toString('base64url')
  const body = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(payload)}`
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`
}

const inAnHour = (): number => Math.floor(Date.now() / 1000) + 3600

t.test('handshake refusals carry the documented message and code, and never reach connection', async (t) => {
  const server = await startServer(t)
  let connections = 0
  server.app.agentEvents.io.on('connection', () => connections++)

  const cases: [string, Record<string, unknown>, string, string][] = [
    ['no token', {}, 'Authentication required', 'AUTH_REQUIRED'],
    ['empty token', { auth: { token: '' } }, 'Authentication required', 'AUTH_REQUIRED'],
    ['bad signature', { auth: { token: hs256({ sub: 'u1', exp: inAnHour() }, 'another-secret-another-secret-1234') } }, 'Invalid or expired token', 'AUTH_INVALID'],
    ['malformed', { auth: { token: 'not.a.jwt' } }, 'Invalid or expired token', 'AUTH_INVALID'],
    ['not a string', { auth: { token: { sub: 'u1' } } }, 'Invalid or expired token', 'AUTH_INVALID'],
    ['expired', { auth: { token: hs256({ sub: 'u1', exp: Math.floor(Date.now() / 1000) - 60 }) } }, 'Invalid or expired token', 'AUTH_EXPIRED'],
    ['no exp', { auth: { token: hs256({ sub: 'u1' }) } }, 'Invalid or expired token', 'AUTH_INVALID'],
    ['no user id claim', { auth: { token: hs256({ name: 'x', exp: inAnHour() }) } }, 'Invalid token payload', 'AUTH_INVALID_PAYLOAD'],
    ['empty user id', { auth: { token: hs256({ sub: '', exp: inAnHour() }) } }, 'Invalid token payload', 'AUTH_INVALID_PAYLOAD'],
    ['oversized', { auth: { token: hs256({ sub: 'u1', exp: inAnHour(), pad: 'x'.repeat(9000) }) } }, 'Invalid or expired token', 'AUTH_INVALID'],
    ['wrong scheme header', { extraHeaders: { authorization: `Basic ${server.token('u1')}` } }, 'Authentication required', 'AUTH_REQUIRED'],
    ['token only in the query string', { query: { token: server.token('u1') } }, 'Authentication required', 'AUTH_REQUIRED'],
  ]
  for (const [name, options, message, code] of cases) {
    const error = await refusal(client(t, server, options))
    t.equal(error.message, message, `${name}: message`)
    t.same(error.data, { code }, `${name}: code`)
  }
  t.equal(connections, 0)
  t.equal(server.app.agentEvents.getConnectedCount(), 0)
})

t.test('a valid token connects, from auth.token or from the Authorization header', async (t) => {
  const server = await startServer(t)
  const viaAuth = await connectAs(t, server, 'alice')
  const viaHeader = client(t, server, { extraHeaders: { authorization: `Bearer ${server.token('bob')}` } })
  viaHeader.connect()
  await new Promise<void>((resolve) => viaHeader.once('connect', () => resolve()))
  t.equal(server.app.agentEvents.getUserId(viaAuth.id as string), 'alice')
  t.equal(server.app.agentEvents.getUserId(viaHeader.id as string), 'bob')
  t.equal(server.app.agentEvents.getConnectedCount(), 2)
  t.equal(server.app.agentEvents.getUserId('no-such-socket'), undefined)
})

t.test('the user id comes from auth.userIdClaim; numbers become strings', async (t) => {
  const server = await startServer(t, { auth: { userIdClaim: 'uid' } })
  const socket = client(t, server, { auth: { token: server.app.jwt.sign({ uid: 42 }, { expiresIn: '1h' }) } })
  socket.connect()
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  t.equal(server.app.agentEvents.getUserId(socket.id as string), '42')
  const noClaim = await refusal(client(t, server, { auth: { token: server.token('has-sub-only') } }))
  t.same(noClaim.data, { code: 'AUTH_INVALID_PAYLOAD' })
})

t.test('auth.requireExp: false admits tokens without exp', async (t) => {
  const server = await startServer(t, { auth: { requireExp: false } })
  const socket = client(t, server, { auth: { token: hs256({ sub: 'u1' }) } })
  socket.connect()
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  t.ok(socket.connected)
})

t.test('auth.verify options reach fastify.jwt.verify', async (t) => {
  const server = await startServer(t, { auth: { verify: { allowedIss: 'https://issuer.example' } } })
  const wrongIssuer = await refusal(client(t, server, { auth: { token: server.token('u1', { iss: 'https://evil.example' }) } }))
  t.same(wrongIssuer.data, { code: 'AUTH_INVALID' })
  const rightIssuer = client(t, server, { auth: { token: server.token('u1', { iss: 'https://issuer.example' }) } })
  rightIssuer.connect()
  await new Promise<void>((resolve) => rightIssuer.once('connect', () => resolve()))
  t.ok(rightIssuer.connected)
})

t.test('verifier text never reaches the client', async (t) => {
  const server = await startServer(t)
  const error = await refusal(client(t, server, { auth: { token: 'a.b.c' } }))
  t.notMatch(error.message, /FAST_JWT|signature|decode/i)
  t.same(Object.keys(error.data ?? {}), ['code'])
})
