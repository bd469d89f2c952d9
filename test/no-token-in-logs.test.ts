import { Writable } from 'node:stream'
import fastifyCookie from '@fastify/cookie'
import t from 'tap'
import { client, connectAs, refusal, request, SECRET, startServer, waitFor } from './helpers.ts'
import { hmac, hs256, nowSeconds, unsigned } from './forge.ts'

// One run through every path that logs (refused handshakes of every kind, rate limits, refreshes
// good and bad, expiry, failing authorize hooks), with the logger at `trace` and captured: no line
// may contain any token that was sent, nor any token's signature.

t.test('no log line carries a token', async (t) => {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line.length > 0))
      done()
    },
  })
  const server = await startServer(
    t,
    {
      auth: { tokenFrom: ['auth', 'header', 'cookie'] },
      rateLimit: { connection: { max: 40, timeWindow: '1 minute' }, message: { max: 30, timeWindow: '1 minute' } },
      authorizeTimeout: 50,
      authorize: async ({ workflowId }) => {
        if (workflowId === 'throws') throw new Error('database unavailable')
        if (workflowId === 'slow') return new Promise<boolean>(() => {})
        return workflowId !== 'denied'
      },
    },
    {
      logger: { level: 'trace', stream },
      jwt: { cookie: { cookieName: 'token', signed: false } },
      before: async (app) => {
        await app.register(fastifyCookie)
        app.get('/me', { onRequest: [async (req) => req.jwtVerify()] }, async (req) => req.user)
      },
    },
  )
  const tokens: string[] = []
  const remember = (token: string): string => {
    tokens.push(token)
    return token
  }

  // Refused handshakes, through each token source.
  const forged = [
    remember(hs256({ sub: 'alice', exp: nowSeconds() + 60 }, 'a-wrong-secret-that-is-long-enough')),
    remember(hs256({ sub: 'alice', exp: nowSeconds() - 60 }, SECRET)),
    remember(hs256({ sub: 'alice' }, SECRET)),
    remember(hs256({ exp: nowSeconds() + 60 }, SECRET)),
    remember(`${unsigned({ alg: 'none' }, { sub: 'alice', exp: nowSeconds() + 60 })}.`),
    remember(hs256({ sub: 'alice', exp: nowSeconds() + 60, pad: 'p'.repeat(9000) }, SECRET)),
    remember('garbage.token.value'),
  ]
  for (const token of forged) {
    await refusal(client(t, server, { auth: { token } }))
    await refusal(client(t, server, { extraHeaders: { authorization: `Bearer ${token}` } }))
    await refusal(client(t, server, { extraHeaders: { cookie: `token=${token}` } }))
  }

  // Good connections through each source, then every logging path of a connected socket.
  const alice = await connectAs(t, server, 'alice', { auth: { token: remember(server.token('alice')) } })
  await connectAs(t, server, 'bob', { extraHeaders: { authorization: `Bearer ${remember(server.token('bob'))}` } })
  await connectAs(t, server, 'carol', { extraHeaders: { cookie: `token=${remember(server.token('carol'))}` } })
  for (const workflowId of ['wf-1', 'denied', 'throws', 'slow']) await request(alice, 'agent:subscribe', { workflowId })
  await request(alice, 'auth:refresh', { token: remember(server.token('alice')) })
  await request(alice, 'auth:refresh', { token: remember(server.token('mallory')) })
  await request(alice, 'auth:refresh', { token: remember(hs256({ sub: 'alice', exp: nowSeconds() - 1 }, SECRET)) })
  await request(alice, 'auth:refresh', { token: remember(`${unsigned({ alg: 'HS256' }, { sub: 'alice' })}.${hmac('x', 'y')}`) })
  while ((await request(alice, 'agent:unsubscribe', { workflowId: 'wf-1' })).ok === true) {
    // Spend the message budget so that the refusal is logged too.
  }

  // Expiry.
  const shortLived = await connectAs(t, server, 'dave', { auth: { token: remember(hs256({ sub: 'dave', exp: nowSeconds() + 1 }, SECRET)) } })
  await Promise.all([waitFor(shortLived, 'auth:expired', 5000), waitFor(shortLived, 'disconnect', 5000)])

  // Spend the handshake budget, with a token, so that refusal is logged too.
  let limited = false
  while (!limited) {
    const error = await refusal(client(t, server, { auth: { token: remember(hs256({ sub: 'eve', exp: nowSeconds() + 60 }, 'wrong-secret-wrong-secret-wrong!!')) } }))
    limited = error.data?.code === 'RATE_LIMITED'
  }

  // The app's own REST route with the same tokens.
  await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${tokens[0]}` } })
  await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${server.token('alice')}` } })

  await server.app.close()
  t.ok(lines.length > 20, `${lines.length} log lines captured`)
  t.ok(lines.some((line) => line.includes('handshake refused')), 'refused handshakes were logged')
  t.ok(lines.some((line) => line.includes('token refresh for another user refused')), 'the foreign refresh was logged')
  t.ok(lines.some((line) => line.includes('authorize failed')), 'the failing authorize was logged')
  t.ok(lines.some((line) => line.includes('rate limited')), 'rate-limit refusals were logged')
  t.ok(lines.some((line) => line.includes('token expired')), 'the expiry was logged')
  const leaks = lines.filter((line) =>
    tokens.some((token) => line.includes(token) || (token.split('.')[2] ?? '').length > 8 && line.includes(token.split('.')[2] ?? '')),
  )
  t.same(leaks, [], `none of ${tokens.length} tokens appears in any log line`)
})
