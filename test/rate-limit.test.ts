import { Writable } from 'node:stream'
import fastifyRateLimit from '@fastify/rate-limit'
import t from 'tap'
import type { TrustProxy } from '../src/index.ts'
import { AGENT_EVENTS, client, collect, connectAs, refusal, request, startServer, until } from './helpers.ts'

type Refusal = { ok: false; error: { code: string; message: string; retryAfterMs?: number } }

t.test('handshakes are limited per client IP, bad tokens included, with retryAfterMs', async (t) => {
  const server = await startServer(t, { rateLimit: { connection: { max: 3, timeWindow: '1 minute' } } })
  for (let attempt = 0; attempt < 3; attempt++) {
    const error = await refusal(client(t, server, { auth: { token: 'garbage' } }))
    t.equal(error.data?.code, 'AUTH_INVALID', 'within the limit, the token decides')
  }
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') } }))
  t.equal(error.message, 'Too many connection attempts')
  t.equal(error.data?.code, 'RATE_LIMITED', 'the fourth handshake is refused even with a good token')
  const retryAfterMs = error.data?.retryAfterMs
  t.type(retryAfterMs, 'number')
  t.ok(typeof retryAfterMs === 'number' && retryAfterMs > 0 && retryAfterMs <= 60_000, 'retryAfterMs lies within the window')
})

t.test('behind a trusted proxy the limit keys on the forwarded client address', async (t) => {
  const server = await startServer(
    t,
    { rateLimit: { connection: { max: 2, timeWindow: '1 minute' } }, trustProxy: true },
    { fastify: { trustProxy: true } },
  )
  const from = (ip: string) => ({ extraHeaders: { 'x-forwarded-for': ip } })
  await connectAs(t, server, 'alice', from('203.0.113.1'))
  await connectAs(t, server, 'alice', from('203.0.113.1'))
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') }, ...from('203.0.113.1') }))
  t.equal(error.data?.code, 'RATE_LIMITED', 'the third handshake from 203.0.113.1 is refused')
  const other = await connectAs(t, server, 'bob', from('203.0.113.2'))
  t.ok(other.connected, 'another client behind the same proxy keeps its own budget')
})

t.test('without trustProxy a forged X-Forwarded-For buys no new budget', async (t) => {
  const server = await startServer(t, { rateLimit: { connection: { max: 2, timeWindow: '1 minute' } } })
  await connectAs(t, server, 'alice', { extraHeaders: { 'x-forwarded-for': '198.51.100.1' } })
  await connectAs(t, server, 'alice', { extraHeaders: { 'x-forwarded-for': '198.51.100.2' } })
  const error = await refusal(
    client(t, server, { auth: { token: server.token('alice') }, extraHeaders: { 'x-forwarded-for': '198.51.100.3' } }),
  )
  t.equal(error.data?.code, 'RATE_LIMITED')
})

t.test('messages are limited per user; the socket stays connected and a reconnect does not reset the count', async (t) => {
  const server = await startServer(t, { rateLimit: { message: { max: 5, timeWindow: '1 minute' } } })
  const alice = await connectAs(t, server, 'alice')
  const received = collect(alice, AGENT_EVENTS)
  for (let n = 1; n <= 5; n++) {
    t.match(await request(alice, 'agent:subscribe', { workflowId: `wf-${n}` }), { ok: true }, `request ${n} passes`)
  }
  const refused = await request<Refusal>(alice, 'agent:subscribe', { workflowId: 'wf-6' })
  t.equal(refused.ok, false)
  t.equal(refused.error.code, 'RATE_LIMITED', 'the sixth request is refused')
  t.ok((refused.error.retryAfterMs ?? 0) > 0, 'with retryAfterMs')
  const unknown = await request<Refusal>(alice, 'no:such-event', {})
  t.equal(unknown.error.code, 'RATE_LIMITED', 'every client message counts, unknown events included')

  t.ok(alice.connected, 'the refused socket stays connected')
  await server.app.agentEvents.emitThought('wf-1', 'still listening')
  await until(() => received.length === 1)
  t.match(received[0], { workflowId: 'wf-1', data: { content: 'still listening' } }, 'and still receives its events')

  alice.disconnect()
  const again = await connectAs(t, server, 'alice')
  const afterReconnect = await request<Refusal>(again, 'agent:subscribe', { workflowId: 'wf-7' })
  t.equal(afterReconnect.error.code, 'RATE_LIMITED', 'a reconnect keeps the user\'s count')

  const bob = await connectAs(t, server, 'bob')
  t.match(await request(bob, 'agent:subscribe', { workflowId: 'wf-1' }), { ok: true }, 'another user is unaffected')
})

t.test('requests without an acknowledgement are dropped silently when over the limit', async (t) => {
  const server = await startServer(t, { rateLimit: { message: { max: 2, timeWindow: '1 minute' } } })
  const alice = await connectAs(t, server, 'alice')
  alice.emit('agent:subscribe', { workflowId: 'wf-a' })
  alice.emit('agent:subscribe', { workflowId: 'wf-b' })
  alice.emit('agent:subscribe', { workflowId: 'wf-c' })
  const refused = await request<Refusal>(alice, 'agent:unsubscribe', { workflowId: 'wf-a' })
  t.equal(refused.error.code, 'RATE_LIMITED')
  t.ok(alice.connected)
})

t.test('the app\'s own @fastify/rate-limit is used, and its allow-list means "not limited"', async (t) => {
  const server = await startServer(
    t,
    { rateLimit: { connection: { max: 1, timeWindow: '1 minute' }, message: { max: 1, timeWindow: '1 minute' } } },
    {
      before: async (app) => {
        await app.register(fastifyRateLimit, { global: false, allowList: ['127.0.0.1'] })
      },
    },
  )
  const sockets = [
    await connectAs(t, server, 'alice'),
    await connectAs(t, server, 'alice'),
    await connectAs(t, server, 'alice'),
  ]
  t.equal(sockets.filter((socket) => socket.connected).length, 3, 'allow-listed addresses pass a handshake limit of 1')
  const acks = []
  for (const workflowId of ['wf-1', 'wf-2']) acks.push(await request(sockets[0]!, 'agent:subscribe', { workflowId }))
  t.same(
    acks.map((ack) => ack.ok),
    [true, false],
    'messages key on the user (agent-events:user:alice), which that allow-list does not name',
  )
})

t.test('the app\'s own @fastify/rate-limit store counts the plugin\'s keys', async (t) => {
  const counts = new Map<string, number>()
  // A store shared by the app, as a Redis store would be across nodes.
  class CountingStore {
    incr(key: string, callback: (error: Error | null, result: { current: number; ttl: number }) => void, timeWindow: number): void {
      const current = (counts.get(key) ?? 0) + 1
      counts.set(key, current)
      callback(null, { current, ttl: timeWindow })
    }
    child(): CountingStore {
      return this
    }
  }
  const server = await startServer(
    t,
    { rateLimit: { connection: { max: 1, timeWindow: '1 minute' }, message: { max: 5, timeWindow: '1 minute' } } },
    {
      before: async (app) => {
        await app.register(fastifyRateLimit, { global: false, store: CountingStore as never })
      },
    },
  )
  const alice = await connectAs(t, server, 'alice')
  await request(alice, 'agent:subscribe', { workflowId: 'wf-1' })
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') } }))
  t.equal(error.data?.code, 'RATE_LIMITED')
  t.same(
    Object.fromEntries(counts),
    { '127.0.0.1': 2, 'agent-events:user:alice': 1 },
    'handshakes counted by IP and messages by user, in the app\'s store',
  )
})

t.test('where the app has no @fastify/rate-limit, its routes stay unlimited', async (t) => {
  const server = await startServer(t, { rateLimit: { connection: { max: 1, timeWindow: '1 minute' } } }, {
      before: (app) => {
      app.get('/ping', async () => ({ pong: true }))
    },
  })
  t.equal(server.app.hasDecorator('createRateLimit'), false, 'the plugin\'s rate limiter is encapsulated')
  for (let n = 0; n < 5; n++) {
    const response = await fetch(`${server.url}/ping`)
    t.equal(response.status, 200)
    t.equal(response.headers.get('x-ratelimit-limit'), null, 'no rate-limit headers on the app\'s routes')
  }
  await connectAs(t, server, 'alice')
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') } }))
  t.equal(error.data?.code, 'RATE_LIMITED', 'while handshakes are limited')
})

t.test('rateLimit: false turns both limits off', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  const alice = await connectAs(t, server, 'alice')
  const acks = await Promise.all(
    Array.from({ length: 150 }, (_, n) => request(alice, 'agent:unsubscribe', { workflowId: `wf-${n}` })),
  )
  t.equal(acks.filter((ack) => ack.ok === true).length, 150, '150 messages in a burst all pass')
})

t.test('a failing rate-limit store lets requests through and says so in the log', async (t) => {
  const warnings: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      warnings.push(chunk.toString())
      done()
    },
  })
  class BrokenStore {
    incr(_key: string, callback: (error: Error | null) => void): void {
      callback(new Error('store unreachable'))
    }
    child(): BrokenStore {
      return this
    }
  }
  const server = await startServer(
    t,
    { rateLimit: { connection: { max: 1, timeWindow: '1 minute' } } },
    {
      logger: { level: 'warn', stream },
      before: async (app) => {
        await app.register(fastifyRateLimit, { global: false, store: BrokenStore as never })
      },
    },
  )
  const first = await connectAs(t, server, 'alice')
  const second = await connectAs(t, server, 'alice')
  t.ok(first.connected && second.connected, 'an outage of the store does not lock clients out')
  t.match(await request(first, 'agent:subscribe', { workflowId: 'wf-1' }), { ok: true })
  t.ok(warnings.some((line) => line.includes('rate-limit store failed')), 'the outage is logged')
})

t.test('trustProxy as an address list is read with Fastify\'s own rules', async (t) => {
  const from = (ip: string) => ({ extraHeaders: { 'x-forwarded-for': ip } })
  const limit = { rateLimit: { connection: { max: 1, timeWindow: '1 minute' } } }
  const trusted = await startServer(t, { ...limit, trustProxy: '127.0.0.1' }, { fastify: { trustProxy: '127.0.0.1' } })
  await connectAs(t, trusted, 'alice', from('203.0.113.1'))
  const other = await connectAs(t, trusted, 'alice', from('203.0.113.2'))
  t.ok(other.connected, 'the peer 127.0.0.1 is a trusted proxy: each forwarded client has its own budget')

  const untrusted = await startServer(t, { ...limit, trustProxy: '10.0.0.1' }, { fastify: { trustProxy: '10.0.0.1' } })
  await connectAs(t, untrusted, 'alice', from('203.0.113.1'))
  const error = await refusal(client(t, untrusted, { auth: { token: untrusted.token('alice') }, ...from('203.0.113.2') }))
  t.equal(error.data?.code, 'RATE_LIMITED', 'the peer is not in the list: X-Forwarded-For is ignored')
})

t.test('trustProxy address lists follow Fastify\'s rules: the handshake sees the request.ip and request.ips of a REST route', async (t) => {
  // The forms Fastify takes, each given to Fastify and to the plugin alike. The peer is 127.0.0.1.
  const forms: [string, TrustProxy | undefined][] = [
    ['not given', undefined],
    ['false', false],
    ['true', true],
    // Numbers are not in Fastify's type, but Fastify takes them: as trusting no proxy.
    ['a hop count (trusts no proxy)', 2 as unknown as TrustProxy],
    ['0', 0 as unknown as TrustProxy],
    ['the peer', '127.0.0.1'],
    ['another address', '10.0.0.1'],
    ['a comma-separated list', '127.0.0.1, 10.0.0.0/8'],
    ['a list', ['127.0.0.1', '10.0.0.0/8']],
    ['a named range', ['loopback']],
    ['a function of the address', (address: string) => address === '127.0.0.1' || address.startsWith('10.')],
    ['a function of the hop', (_address: string, hop: number) => hop < 2],
  ]
  const forwardedFor = '198.51.100.1, 203.0.113.7, 10.0.0.2'
  for (const [name, trustProxy] of forms) {
    const seen: { ip: string; ips: string[] | null }[] = []
    const server = await startServer(
      t,
      { rateLimit: { connection: { max: 100, timeWindow: '1 minute' } }, ...(trustProxy === undefined ? {} : { trustProxy }) },
      {
        fastify: trustProxy === undefined ? {} : { trustProxy },
        before: async (app) => {
          // The app's allow-list is handed the plugin's request-like object for every handshake.
          await app.register(fastifyRateLimit, {
            global: false,
            allowList: (req) => (seen.push({ ip: req.ip, ips: req.ips ?? null }), false),
          })
          app.get('/whoami', async (request) => ({ ip: request.ip, ips: request.ips ?? null }))
        },
      },
    )
    const headers = { 'x-forwarded-for': forwardedFor }
    const rest = (await (await fetch(`${server.url}/whoami`, { headers })).json()) as { ip: string; ips: string[] | null }
    await (await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers })).arrayBuffer()
    t.same(seen, [rest], `${name}: ${rest.ip}`)
  }
})

t.test('without the plugin\'s trustProxy, a proxied handshake is limited by peer address, and the log says so once', async (t) => {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  const server = await startServer(
    t,
    { rateLimit: { connection: { max: 1, timeWindow: '1 minute' } } },
    { fastify: { trustProxy: true }, logger: { level: 'warn', stream } },
  )
  const from = (ip: string) => ({ extraHeaders: { 'x-forwarded-for': ip } })
  await connectAs(t, server, 'alice', from('203.0.113.1'))
  const error = await refusal(client(t, server, { auth: { token: server.token('alice') }, ...from('203.0.113.2') }))
  t.equal(error.data?.code, 'RATE_LIMITED', 'both clients share the proxy\'s budget')
  t.equal(lines.filter((line) => line.includes('trustProxy is not set')).length, 1, 'one warning')
})

t.test('a bad trustProxy fails registration, naming the option', async (t) => {
  for (const trustProxy of ['not-an-address', ['10.0.0.0/99'], { ip: '10.0.0.1' }, -1]) {
    await t.rejects(startServer(t, { trustProxy: trustProxy as never }), { code: 'FST_AGENT_EVENTS_INVALID_OPTION', message: /trustProxy/ }, JSON.stringify(trustProxy))
  }
})
