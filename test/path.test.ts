import t from 'tap'
import { client, connectAs, startServer, waitFor } from './helpers.ts'

for (const transport of ['websocket', 'polling'] as const) {
  t.test(`"/ws" and "/ws/" both mean /ws; /ws/ws does not connect (${transport})`, async (t) => {
    for (const configured of ['/ws', '/ws/']) {
      const server = await startServer(t, { path: configured })
      const good = await connectAs(t, server, 'u1', { path: '/ws', transports: [transport] })
      t.ok(good.connected, `${configured}: a client on /ws connects`)
      const withSlash = await connectAs(t, server, 'u1', { path: '/ws/', transports: [transport] })
      t.ok(withSlash.connected, `${configured}: a client on /ws/ connects`)
      const doubled = client(t, server, { path: '/ws/ws', transports: [transport], auth: { token: server.token('u1') } })
      doubled.connect()
      const error = await waitFor<Error>(doubled, 'connect_error')
      t.ok(error instanceof Error, `${configured}: a client on /ws/ws is refused`)
      t.notOk(doubled.connected)
    }
  })
}

t.test('the default path is /socket.io', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  t.ok(socket.connected)
})

t.test('other HTTP routes are untouched', async (t) => {
  const server = await startServer(t, { path: '/ws' }, {
    before: (app) => {
      app.get('/health', async () => ({ ok: true }))
    },
  })
  const response = await fetch(`${server.url}/health`)
  t.same(await response.json(), { ok: true })
})
