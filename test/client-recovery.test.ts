// Each kind of disconnect on its own: the client reconnects, resubscribes with its lastSeq and
// epoch, and hands out the events emitted meanwhile exactly once, in order.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { LogCapture, range, seqs, startServer, until } from './helpers.ts'
import { clientOf, follow, serverSockets, statusReached } from './client-helpers.ts'
import { stallingProxy } from './stalling-proxy.ts'

/** Quick reconnects keep the tests short; the client's own logic is the same at any pace. */
const FAST_RECONNECT = { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200 }

t.test('network drop: socket.io-client reconnects by itself, the run resumes after its lastSeq', async (t) => {
  const server = await startServer(t)
  const proxy = await stallingProxy(t, server.url)
  const client = clientOf(t, { ...server, url: proxy.url }, 'u1', { socket: FAST_RECONNECT })
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-1', 'one')
  await until(() => followed.events.length === 1)
  const offline = statusReached(client, 'offline')
  proxy.cut()
  await offline
  for (const n of range(2, 5)) await server.app.agentEvents.emitThought('wf-1', `while cut ${n}`)
  await until(() => followed.events.length === 5)
  t.same(seqs(followed.events), range(1, 5))
  t.same(followed.resets, [])
  t.equal(followed.run.status, 'live')
})

t.test('server disconnect(true) ("io server disconnect", which socket.io-client does not retry): reconnected and resumed', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-1', 'one')
  await until(() => followed.events.length === 1)
  const [first] = serverSockets(server)
  const offline = statusReached(client, 'offline')
  first!.disconnect(true)
  await offline
  for (const n of range(2, 5)) await server.app.agentEvents.emitThought('wf-1', `while away ${n}`)
  await statusReached(client, 'online')
  await until(() => followed.events.length === 5)
  t.same(seqs(followed.events), range(1, 5))
  t.not(serverSockets(server)[0]?.id, first!.id, 'on a new socket')
  t.equal(followed.run.status, 'live')
})

t.test('slow-consumer drop ("transport close"): the stalled client recovers every event by replay', async (t) => {
  const logs = new LogCapture()
  const server = await startServer(
    t,
    { rateLimit: false, maxBufferedBytes: 256 * 1024, slowConsumerTimeout: '1 second', replay: { maxEvents: 5000 } },
    { logger: { level: 'warn', stream: logs.stream } },
  )
  const proxy = await stallingProxy(t, server.url)
  const followed = follow(clientOf(t, { ...server, url: proxy.url }, 'u1', { socket: FAST_RECONNECT }), 'wf-1')
  await until(() => followed.run.status === 'live')
  proxy.stall()
  let dropped = false
  void logs.next('slow consumer disconnected').then(() => { dropped = true })
  let emitted = 0
  while (!dropped) {
    await server.app.agentEvents.emitThought('wf-1', randomBytes(8 * 1024).toString('hex'))
    emitted++
    await new Promise((resolve) => setImmediate(resolve))
    if (emitted > 4000) throw new Error('the server never dropped the stalled client')
  }
  for (let n = 0; n < 10; n++, emitted++) await server.app.agentEvents.emitThought('wf-1', `after the drop ${n}`)
  proxy.resume()
  await until(() => followed.events.length === emitted, 30_000)
  t.same(seqs(followed.events), range(1, emitted), `${emitted} events, each once, in order`)
  t.same(followed.resets, [])
})

t.test('server:shutdown and a restart that forgot the run (memory store): a reset, then the new buffer\'s events', async (t) => {
  const first = await startServer(t)
  const proxy = await stallingProxy(t, first.url)
  const client = clientOf(t, { ...first, url: proxy.url }, 'u1', { socket: FAST_RECONNECT })
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  for (const n of range(1, 3)) await first.app.agentEvents.emitThought('wf-1', `first life ${n}`)
  await until(() => followed.events.length === 3)
  const firstEpoch = followed.run.epoch
  await first.app.close()
  const second = await startServer(t)
  proxy.retarget(second.url)
  for (const n of range(1, 2)) await second.app.agentEvents.emitThought('wf-1', `second life ${n}`)
  await until(() => followed.events.length === 5)
  t.same(followed.log, [1, 2, 3, 'reset:epoch', 1, 2], 'the reset comes between the two lives')
  t.not(followed.run.epoch, firstEpoch)
  t.equal(followed.run.lastSeq, 2)
})

t.test('auth:expired: a token that runs out without a refresh costs the socket; a fresh token() gets it back', async (t) => {
  const logs = new LogCapture()
  const server = await startServer(t, {}, { logger: { level: 'debug', stream: logs.stream } })
  let calls = 0
  const token = (): string | Promise<string> => {
    calls++
    // 1: the handshake, with a token that expires at once; 2: its refresh, which never comes; then fresh tokens.
    if (calls === 1) return server.app.jwt.sign({ sub: 'u1' }, { expiresIn: '2s' })
    if (calls === 2) return new Promise<string>(() => {})
    return server.token('u1')
  }
  const client = clientOf(t, server, 'u1', { token })
  const statuses: string[] = []
  client.on('status', (status) => statuses.push(status))
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-1', 'one')
  await logs.next('token expired: disconnecting')
  for (const n of range(2, 4)) await server.app.agentEvents.emitThought('wf-1', `after expiry ${n}`)
  await until(() => followed.events.length === 4)
  t.same(seqs(followed.events), range(1, 4))
  t.ok(calls >= 3, 'token() was asked again for the new handshake')
  t.same(statuses, ['online', 'offline', 'connecting', 'online'], 'one disconnect, one reconnect')
})
