import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildBasicApp } from '../examples/basic.ts'
import { AGENT_EVENTS, collect, connectAs, request, until } from './helpers.ts'

t.test('the basic example: a REST route emits a result to subscribers, and the REST fallback replays it', async (t) => {
  const app = await buildBasicApp({ secret: 'example-secret-example-secret-123', logger: false })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const server = { app, url, token: (sub: string) => app.jwt.sign({ sub }, { expiresIn: '1h' }) }

  const { token } = (await (await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'alice' }),
  })).json()) as { token: string }
  const socket = await connectAs(t, server, 'alice', { path: '/ws' })
  const received = collect(socket, AGENT_EVENTS)
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'alice-1' }), { ok: true })
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'bob-1' }), { ok: false, error: { code: 'FORBIDDEN' } })

  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const posted = await fetch(`${url}/workflows/alice-1/result`, { method: 'POST', headers, body: JSON.stringify({ status: 'success', content: '42' }) })
  t.equal(posted.status, 200)
  const event = await posted.json()
  t.match(event, { type: 'result', workflowId: 'alice-1', data: { status: 'success', content: '42' }, seq: 1 })
  await until(() => received.length === 1)
  t.same(received[0], event, 'the subscriber got what the route answered')

  t.equal((await fetch(`${url}/workflows/alice-1/result`, { method: 'POST', headers, body: '"nope"' })).status, 400)
  t.equal((await fetch(`${url}/workflows/bob-1/result`, { method: 'POST', headers, body: '{}' })).status, 403)
  t.equal((await fetch(`${url}/workflows/alice-1/result`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 401)

  const history = await (await fetch(`${url}/workflows/alice-1/events?afterSeq=0`, { headers })).json()
  t.same(history, { events: [event], lastSeq: 1, truncated: false })
  t.same(await (await fetch(`${url}/workflows/alice-1/events?afterSeq=1`, { headers })).json(), { events: [], lastSeq: 1, truncated: false })
  t.equal((await fetch(`${url}/workflows/alice-1/events?afterSeq=-1`, { headers })).status, 400)
})
