import t from 'tap'
import { Manager } from 'socket.io-client'
import { DEFAULTS } from '../src/index.ts'
import { connectAs, startServer, waitFor } from './helpers.ts'

t.test('a connection that never completes its Socket.IO handshake is closed after connectTimeout', async (t) => {
  const server = await startServer(t, { socketio: { connectTimeout: 300 } })
  // An engine.io connection that never asks for a namespace: a half-open handshake.
  const manager = new Manager(server.url, { autoConnect: false, reconnection: false, transports: ['websocket'] })
  t.teardown(() => manager.engine?.close())
  const opened = new Promise<void>((resolve, reject) => manager.open((error) => (error ? reject(error) : resolve())))
  await opened
  t.equal(server.app.agentEvents.io.engine.clientsCount, 1, 'the engine connection is open')
  const reason = await waitFor<string>(manager as never, 'close', 5000)
  t.equal(reason, 'transport close', 'the server closed it')
  t.equal(server.app.agentEvents.io.engine.clientsCount, 0, 'and holds nothing for it')
  const socket = await connectAs(t, server, 'alice')
  t.ok(socket.connected, 'a complete handshake is unaffected')
})

t.test('connectTimeout and maxHttpBufferSize have bounded defaults', async (t) => {
  const server = await startServer(t)
  const io = server.app.agentEvents.io
  t.equal(DEFAULTS.connectTimeout, 10_000)
  t.equal(io.connectTimeout(), DEFAULTS.connectTimeout, 'connectTimeout defaults to 10 s (Socket.IO\'s own is 45 s)')
  t.equal((io.engine as unknown as { opts: { maxHttpBufferSize: number } }).opts.maxHttpBufferSize, 100_000)
})
