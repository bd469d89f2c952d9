import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { Server } from 'socket.io'
import t from 'tap'
import agentEvents from '../src/index.ts'
import { connectAs, request, SECRET, startServer, waitFor } from './helpers.ts'

t.test('close() with clients connected tells them, disconnects them, and leaves no open handle', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/close-with-clients.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  // The child must exit by itself; if something kept it alive, this timeout ends the test.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const [code, signal] = await once(child, 'exit')
  clearTimeout(timer)
  t.equal(signal, null, 'the process was not killed: it exited by itself')
  t.equal(code, 0)
  const result = JSON.parse(output.trim().split('\n').at(-1) ?? '{}')
  t.equal(result.connectedBefore, 2)
  t.equal(result.connectedAfter, 0)
  t.same(result.notices, { websocket: { reconnect: true }, polling: { reconnect: true } }, 'both transports got server:shutdown')
  t.same(Object.keys(result.disconnects).sort(), ['polling', 'websocket'])
})

t.test('the shutdown notice arrives before the disconnect', async (t) => {
  const server = await startServer(t)
  const socket = await connectAs(t, server, 'u1')
  const order: string[] = []
  socket.on('server:shutdown', () => order.push('server:shutdown'))
  const disconnected = waitFor(socket, 'disconnect')
  socket.on('disconnect', () => order.push('disconnect'))
  await server.app.close()
  await disconnected
  t.same(order, ['server:shutdown', 'disconnect'])
})

t.test('closing before listen, or twice, does not throw', async (t) => {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: SECRET })
  await app.register(agentEvents)
  await app.ready()
  await app.close()
  await app.close()
  t.pass('closed')
})

t.test('an app-provided fastify.io is reused and left for the app to close', async (t) => {
  const app = Fastify()
  const io = new Server(app.server, { path: '/custom' })
  app.decorate('io', io)
  t.teardown(async () => {
    await app.close()
    await io.close()
  })
  await app.register(fastifyJwt, { secret: SECRET })
  await app.register(agentEvents, { authorize: () => true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.equal(app.agentEvents.io, io)
  const address = app.server.address() as { port: number }
  const server = { app, url: `http://127.0.0.1:${address.port}`, token: (sub: string) => app.jwt.sign({ sub }, { expiresIn: '1h' }) }
  const socket = await connectAs(t, server, 'u1', { path: '/custom' })
  t.match(await request(socket, 'agent:subscribe', { workflowId: 'wf' }), { ok: true })
})

t.test('close() with many clients warns of no listener leak', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  const warnings: string[] = []
  const onWarning = (warning: Error) => warnings.push(warning.name)
  process.on('warning', onWarning)
  t.teardown(() => void process.off('warning', onWarning))
  await Promise.all(Array.from({ length: 15 }, (_, i) => connectAs(t, server, `user-${i}`)))
  await server.app.close()
  // Warnings are emitted on the next tick.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(warnings.filter((name) => name === 'MaxListenersExceededWarning'), [], 'no MaxListenersExceededWarning')
})
