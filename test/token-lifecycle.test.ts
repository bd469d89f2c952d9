import t from 'tap'
import { client, collect, connectAs, request, SECRET, startServer, until, waitFor, AGENT_EVENTS } from './helpers.ts'
import { hs256, nowSeconds, unsigned } from './forge.ts'

type Ack = { ok: boolean; expiresAt?: string; error?: { code: string; message: string } }

const tokenFor = (sub: string, exp: number | undefined, extra: Record<string, unknown> = {}): string =>
  hs256({ sub, iat: nowSeconds(), ...(exp === undefined ? {} : { exp }), ...extra }, SECRET)

t.test('a socket gets auth:expired, then is disconnected, within a second of exp', async (t) => {
  const server = await startServer(t)
  const exp = nowSeconds() + 2
  const socket = await connectAs(t, server, 'alice', { auth: { token: tokenFor('alice', exp) } })
  const order: string[] = []
  socket.on('auth:expired', () => order.push('auth:expired'))
  socket.on('disconnect', () => order.push('disconnect'))
  const [notice, reason] = await Promise.all([
    waitFor<{ code: string; message: string }>(socket, 'auth:expired', 5000),
    waitFor<string>(socket, 'disconnect', 5000),
  ])
  const disconnectedAt = Date.now()
  t.same(notice, { code: 'AUTH_EXPIRED', message: 'Token expired' })
  t.same(order, ['auth:expired', 'disconnect'], 'the notice comes first')
  t.equal(reason, 'io server disconnect', 'the server ended the connection')
  const lateByMs = disconnectedAt - exp * 1000
  t.comment(`disconnected ${lateByMs} ms after exp`)
  t.ok(lateByMs >= -5, 'not before exp')
  t.ok(lateByMs < 1000, 'within one second of exp')
  await until(() => server.app.agentEvents.getConnectedCount() === 0)
})

t.test('auth:refresh with a newer token of the same user keeps the socket past the old exp', async (t) => {
  const server = await startServer(t)
  const oldExp = nowSeconds() + 2
  const refreshed = await connectAs(t, server, 'alice', { auth: { token: tokenFor('alice', oldExp) } })
  const control = await connectAs(t, server, 'alice', { auth: { token: tokenFor('alice', oldExp) } })
  const received = collect(refreshed, AGENT_EVENTS)
  t.match(await request(refreshed, 'agent:subscribe', { workflowId: 'wf-1' }), { ok: true })

  const newExp = nowSeconds() + 3600
  const ack = await request<Ack>(refreshed, 'auth:refresh', { token: tokenFor('alice', newExp) })
  t.same(ack, { ok: true, expiresAt: new Date(newExp * 1000).toISOString() }, 'the ack names the new expiry in ISO 8601')

  // The control socket shares the old exp: once it has been expired, the old deadline has passed.
  await Promise.all([waitFor(control, 'auth:expired', 5000), waitFor(control, 'disconnect', 5000)])
  // A round trip after the old deadline: any disconnect scheduled for it would have come first.
  t.match(await request(refreshed, 'agent:subscribe', { workflowId: 'wf-2' }), { ok: true })
  t.ok(refreshed.connected, 'the refreshed socket is still connected after the old exp')
  await server.app.agentEvents.emitThought('wf-1', 'after the old exp')
  await until(() => received.length === 1)
  t.match(received[0], { data: { content: 'after the old exp' } }, 'and still receives its events')
})

t.test('auth:refresh with a token of another user is refused and changes nothing', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'alice')
  const ack = await request<Ack>(socket, 'auth:refresh', { token: tokenFor('mallory', nowSeconds() + 3600) })
  t.equal(ack.ok, false)
  t.equal(ack.error?.code, 'FORBIDDEN')
  t.ok(socket.connected, 'the socket stays connected')
  t.equal(server.app.agentEvents.getUserId(socket.id ?? ''), 'alice', 'its identity is unchanged')
})

t.test('auth:refresh verifies the new token exactly as the handshake does', async (t) => {
  const server = await startServer(t, { auth: { verify: { allowedAud: 'agent-ui' } } })
  const socket = await connectAs(t, server, 'alice', { auth: { token: tokenFor('alice', nowSeconds() + 3600, { aud: 'agent-ui' }) } })
  const cases: Array<[string, unknown, string]> = [
    ['expired token', { token: tokenFor('alice', nowSeconds() - 10, { aud: 'agent-ui' }) }, 'AUTH_INVALID'],
    ['wrong secret', { token: hs256({ sub: 'alice', aud: 'agent-ui', exp: nowSeconds() + 60 }, 'another-secret-of-enough-length!!') }, 'AUTH_INVALID'],
    ['alg none', { token: `${unsigned({ alg: 'none' }, { sub: 'alice', aud: 'agent-ui', exp: nowSeconds() + 60 })}.` }, 'AUTH_INVALID'],
    ['wrong audience (auth.verify applies)', { token: tokenFor('alice', nowSeconds() + 3600, { aud: 'billing' }) }, 'AUTH_INVALID'],
    ['missing exp', { token: tokenFor('alice', undefined, { aud: 'agent-ui' }) }, 'AUTH_INVALID'],
    ['oversized', { token: tokenFor('alice', nowSeconds() + 3600, { aud: 'agent-ui', pad: 'x'.repeat(9000) }) }, 'AUTH_INVALID'],
    ['garbage', { token: 'not.a.jwt' }, 'AUTH_INVALID'],
    ['no token', {}, 'INVALID_REQUEST'],
    ['token not a string', { token: 42 }, 'INVALID_REQUEST'],
    ['extra fields', { token: 'x', admin: true }, 'INVALID_REQUEST'],
    ['payload not an object', 'eyJ', 'INVALID_REQUEST'],
  ]
  for (const [name, payload, code] of cases) {
    const ack = await request<Ack>(socket, 'auth:refresh', payload)
    t.equal(ack.error?.code, code, `${name}: ${code}`)
    t.notMatch(ack.error?.message ?? '', /FAST_JWT|signature|algorithm/i, `${name}: no verifier text`)
  }
  socket.emit('auth:refresh', { token: 'without-ack' })
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf-1' }), { ok: true }, 'a refresh without ack harms nothing')
  t.ok(socket.connected)
})

t.test('with auth.requireExp: false a token without exp connects and does not expire', async (t) => {
  const server = await startServer(t, { auth: { requireExp: false } })
  const socket = await connectAs(t, server, 'alice', { auth: { token: tokenFor('alice', undefined) } })
  t.ok(socket.connected)
  const ack = await request<Ack>(socket, 'auth:refresh', { token: tokenFor('alice', undefined) })
  t.equal(ack.error?.code, 'INVALID_REQUEST', 'a refresh needs an exp to move')
  const extended = await request<Ack>(socket, 'auth:refresh', { token: tokenFor('alice', nowSeconds() + 60) })
  t.equal(extended.ok, true, 'a token with exp is taken')
})

t.test('an expired socket may reconnect with a fresh token', async (t) => {
  const server = await startServer(t)
  const socket = client(t, server, { auth: { token: tokenFor('alice', nowSeconds() + 1) } })
  socket.connect()
  await waitFor(socket, 'connect')
  await Promise.all([waitFor(socket, 'auth:expired', 5000), waitFor(socket, 'disconnect', 5000)])
  socket.auth = { token: tokenFor('alice', nowSeconds() + 3600) }
  socket.connect()
  await waitFor(socket, 'connect')
  t.ok(socket.connected)
})
