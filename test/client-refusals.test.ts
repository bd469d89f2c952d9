// Refusals: the final ones (FORBIDDEN, TOO_MANY_SUBSCRIPTIONS) reach onError once and are never
// retried; the passing ones (RATE_LIMITED, a bad token at the handshake) are waited out.
import t from 'tap'
import { AgentEventsClientError } from '../src/client/index.ts'
import { range, seqs, startServer, until } from './helpers.ts'
import { clientOf, countSubscribes, follow, serverSockets, statusReached } from './client-helpers.ts'

t.test('FORBIDDEN reaches onError once, the run is final, and a reconnect does not subscribe it again', async (t) => {
  const server = await startServer(t, { authorize: ({ workflowId }) => workflowId !== 'wf-secret' })
  const subscribes = countSubscribes(server)
  const client = clientOf(t, server, 'u1')
  const open = follow(client, 'wf-open')
  const secret = follow(client, 'wf-secret')
  await until(() => secret.run.status === 'forbidden' && open.run.status === 'live')
  t.match(secret.errors, [{ code: 'FORBIDDEN', message: String }])
  t.ok(secret.errors[0] instanceof AgentEventsClientError)

  for (const socket of serverSockets(server)) socket.disconnect(true)
  await statusReached(client, 'offline')
  await statusReached(client, 'online')
  await until(() => open.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-open', 'after the reconnect')
  await until(() => open.events.length === 1)
  t.equal(subscribes.get('wf-open'), 2, 'the allowed run was resubscribed')
  t.equal(subscribes.get('wf-secret'), 1, 'the forbidden one was not')
  t.equal(secret.errors.length, 1, 'onError was called once')
  t.equal(secret.run.status, 'forbidden')
})

t.test('TOO_MANY_SUBSCRIPTIONS reaches onError once and closes the run for good', async (t) => {
  const server = await startServer(t, { maxSubscriptions: 1 })
  const subscribes = countSubscribes(server)
  const client = clientOf(t, server, 'u1')
  const first = follow(client, 'wf-1')
  await until(() => first.run.status === 'live')
  const second = follow(client, 'wf-2')
  await until(() => second.run.status === 'closed')
  t.match(second.errors, [{ code: 'TOO_MANY_SUBSCRIPTIONS' }])
  for (const socket of serverSockets(server)) socket.disconnect(true)
  await statusReached(client, 'offline')
  await statusReached(client, 'online')
  await until(() => first.run.status === 'live')
  t.equal(subscribes.get('wf-2'), 1, 'not retried after the reconnect')
  t.equal(second.errors.length, 1)
})

t.test('a refused run ends its async iterator with the refusal', async (t) => {
  const server = await startServer(t, { authorize: () => false })
  const client = clientOf(t, server, 'u1')
  const seen: unknown[] = []
  await t.rejects(async () => {
    for await (const event of client.follow('wf-1')) seen.push(event)
  }, { code: 'FORBIDDEN' })
  t.same(seen, [])
})

t.test('a workflowId the server would refuse is refused at once, naming the field', async (t) => {
  const server = await startServer(t)
  const client = clientOf(t, server, 'u1')
  t.throws(() => client.follow('has space'), { code: 'FST_AGENT_EVENTS_INVALID_WORKFLOW_ID', message: /workflowId/ })
})

t.test('a RATE_LIMITED subscribe is tried again after retryAfterMs', async (t) => {
  const server = await startServer(t, { rateLimit: { message: { max: 2, timeWindow: '1 second' } } })
  const subscribes = countSubscribes(server)
  const client = clientOf(t, server, 'u1')
  const runs = ['wf-1', 'wf-2', 'wf-3'].map((workflowId) => follow(client, workflowId))
  await until(() => runs.every((followed) => followed.run.status === 'live'), 10_000)
  t.equal(subscribes.get('wf-3'), 2, 'the third subscribe was refused once, then accepted')
  for (const followed of runs) t.same(followed.errors, [], 'no run saw an error')
  await server.app.agentEvents.emitThought('wf-3', 'delivered')
  await until(() => runs[2]!.events.length === 1)
})

t.test('a RATE_LIMITED handshake is tried again after retryAfterMs', async (t) => {
  const server = await startServer(t, { rateLimit: { connection: { max: 1, timeWindow: '1 second' } } })
  const client = clientOf(t, server, 'u1')
  const refusals: string[] = []
  client.on('error', (error) => refusals.push(error.code))
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live')
  await server.app.agentEvents.emitThought('wf-1', 'one')
  for (const socket of serverSockets(server)) socket.disconnect(true)
  await server.app.agentEvents.emitThought('wf-1', 'two')
  await until(() => followed.events.length === 2, 10_000)
  t.same(seqs(followed.events), range(1, 2))
  t.ok(refusals.includes('RATE_LIMITED'), `the reconnect was refused first (${refusals.join(', ')})`)
})

t.test('a bad token at the handshake is reported and token() is asked again', async (t) => {
  const server = await startServer(t)
  const tokens = ['not-a-jwt', server.app.jwt.sign({ sub: 'u1' }, { expiresIn: -10_000 })]
  const client = clientOf(t, server, 'u1', { token: () => tokens.shift() ?? server.token('u1') })
  const refusals: string[] = []
  client.on('error', (error) => refusals.push(error.code))
  const followed = follow(client, 'wf-1')
  await until(() => followed.run.status === 'live', 10_000)
  t.same(refusals, ['AUTH_INVALID', 'AUTH_EXPIRED'])
  t.equal(client.status, 'online')
})
