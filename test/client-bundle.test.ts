// Socket.IO serves its browser client under the plugin's path (`serveClient`), ahead of
// engine.io and so ahead of the exact-path check; that check must still refuse longer paths.
import t from 'tap'
import { startServer } from './helpers.ts'

const BUNDLES = ['socket.io.esm.min.js', 'socket.io.min.js', 'socket.io.js']

t.test('the browser client is served under the plugin\'s path', async (t) => {
  const server = await startServer(t, { path: '/ws' })
  for (const bundle of BUNDLES) {
    const response = await fetch(`${server.url}/ws/${bundle}`)
    t.equal(response.status, 200, `/ws/${bundle}`)
    t.match(response.headers.get('content-type'), /javascript/)
    t.ok((await response.text()).length > 1000, `${bundle} has the client in it`)
  }
  const longer = await fetch(`${server.url}/ws/ws/?EIO=4&transport=polling`)
  t.not(longer.status, 200, 'a path longer than the plugin\'s is still refused')
  await longer.arrayBuffer()
  const handshake = await fetch(`${server.url}/ws/?EIO=4&transport=polling`)
  t.equal(handshake.status, 200, 'the plugin\'s own path still answers')
  await handshake.arrayBuffer()
})

t.test('with serveClient: false no client is served', async (t) => {
  const server = await startServer(t, { path: '/ws', socketio: { serveClient: false } })
  const response = await fetch(`${server.url}/ws/socket.io.min.js`)
  t.not(response.status, 200)
  await response.arrayBuffer()
})
