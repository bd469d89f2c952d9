// src/transport-backlog.ts reads engine.io's internals; this file fails loudly when an engine.io
// or ws release changes one of them, over real sockets and both transports.
import { once, type EventEmitter } from 'node:events'
import { Socket as TcpSocket } from 'node:net'
import t, { type Test } from 'tap'
import type { Socket } from 'socket.io'
import type { Socket as ClientSocket } from 'socket.io-client'
import { closeTransport, handedBytes, unsentBytes, whenUnsentBelow } from '../src/transport-backlog.ts'
import { connectAs, startServer, until, waitFor, type TestServer } from './helpers.ts'
import { stallingProxy, type StallingProxy } from './stalling-proxy.ts'

const TRANSPORTS = ['websocket', 'polling'] as const
type TransportName = (typeof TRANSPORTS)[number]

/** What engine.io 6.6 keeps, as this module reads it. */
interface EngineConnection extends EventEmitter {
  readyState: string
  writeBuffer: { data?: unknown }[]
  transport: EventEmitter & {
    name: string
    socket?: { bufferedAmount: unknown; _socket?: unknown; terminate?: unknown }
    res?: { socket?: unknown } | null
  }
}

const PROBE = 'x'.repeat(64 * 1024)
/** The bytes engine.io queues for `socket.emit('probe', PROBE)`: its type, then Socket.IO's encoding. */
const PROBE_BYTES = 1 + Buffer.byteLength(`2${JSON.stringify(['probe', PROBE])}`)

interface Rig {
  server: TestServer
  proxy: StallingProxy
  client: ClientSocket
  socket: Socket
  conn: EngineConnection
  probes: { received: number }
}

async function rig(t: Test, transport: TransportName): Promise<Rig> {
  const server = await startServer(t, { rateLimit: false })
  const proxy = await stallingProxy(t, server.url)
  const client = await connectAs(t, { ...server, url: proxy.url }, 'reader', { transports: [transport] })
  const socket = server.app.agentEvents.io.of('/').sockets.get(client.id ?? '')
  if (socket === undefined) throw new Error('server-side socket not found')
  const probes = { received: 0 }
  client.on('probe', () => void probes.received++)
  return { server, proxy, client, socket, conn: socket.conn as unknown as EngineConnection, probes }
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Stall the client and queue probes until the server holds more than `bytes` for it and nothing moves. */
async function backUp(rig: Rig, bytes: number): Promise<number> {
  rig.proxy.stall()
  let sent = 0
  while (unsentBytes(rig.socket) <= bytes) {
    rig.socket.emit('probe', PROBE)
    sent++
    // Let the transport write, so the kernel's buffers fill before engine.io's queue does.
    await new Promise((resolve) => setImmediate(resolve))
    if (sent > 2000) throw new Error('the server never backed up')
  }
  // Settled when two readings some time apart agree: the kernel takes nothing more.
  for (let previous = -1; previous !== handedBytes(rig.socket); ) {
    previous = handedBytes(rig.socket)
    await settle(300)
  }
  return sent
}

for (const transport of TRANSPORTS) {
  t.test(`${transport}: the engine.io fields and events that transport-backlog reads`, async (t) => {
    const { server, socket, conn, probes } = await rig(t, transport)
    t.equal(conn.readyState, 'open', 'Socket#readyState')
    t.ok(Array.isArray(conn.writeBuffer), 'Socket#writeBuffer is an array of packets')
    t.equal(conn.transport.name, transport, 'Transport#name')
    if (transport === 'websocket') {
      const ws = conn.transport.socket
      t.type(ws?.bufferedAmount, 'number', 'the websocket transport keeps the ws WebSocket as `socket` (bufferedAmount)')
      t.type(ws?._socket, TcpSocket, 'ws keeps its TCP socket as `_socket`')
      t.type(ws?.terminate, 'function', 'ws WebSocket#terminate')
    }

    // engine.io's server emits `flush` with the connection and its queue; a polling transport
    // still holds the poll's response then, and its TCP socket.
    const engine = server.app.agentEvents.io.engine as unknown as EventEmitter
    const flushed = new Promise<{ flushedConn: unknown; queue: unknown; responseSocket: unknown }>((resolve) => {
      engine.once('flush', (flushedConn: EngineConnection, queue: unknown) =>
        resolve({ flushedConn, queue, responseSocket: flushedConn.transport.res?.socket }))
    })
    const drained = once(conn, 'drain')
    socket.emit('probe', PROBE)
    const { flushedConn, queue, responseSocket } = await flushed
    t.equal(flushedConn, conn, 'Server `flush` event names the connection')
    t.ok(Array.isArray(queue) && queue.length > 0, 'and carries the packets')
    if (transport === 'polling') {
      t.type(responseSocket, TcpSocket, 'the polling transport holds the pending poll\'s response as `res` at a flush')
    }
    await drained
    t.pass('Socket `drain` event after a flush')
    await until(() => probes.received === 1)
    // The transport's `ready`: a websocket write completed, or the next poll arrived.
    const ready = once(conn.transport, 'ready')
    socket.emit('probe', PROBE)
    await ready
    t.pass('Transport `ready` event')
    await until(() => probes.received === 2)
  })

  t.test(`${transport}: unsent bytes pile up while the peer stops reading, exactly, and leave when it reads again`, async (t) => {
    const r = await rig(t, transport)
    const sent = await backUp(r, 2 * 1024 * 1024)
    const unsent = unsentBytes(r.socket)
    const handed = handedBytes(r.socket)
    t.ok(unsent > 2 * 1024 * 1024, `${unsent} bytes unsent after ${sent} probes`)

    r.socket.emit('probe', PROBE)
    t.equal(unsentBytes(r.socket), unsent + PROBE_BYTES, 'one more packet adds exactly its bytes')
    await settle(300)
    t.equal(handedBytes(r.socket), handed, 'nothing is handed to a peer that does not read')

    const baseline = { drain: r.conn.listenerCount('drain'), close: r.conn.listenerCount('close'), ready: r.conn.transport.listenerCount('ready') }
    let resolved = false
    const waits = [whenUnsentBelow(r.socket, 1024), whenUnsentBelow(r.socket, 512 * 1024)].map((wait) => wait.then(() => (resolved = true)))
    await settle(300)
    t.notOk(resolved, 'a wait does not resolve while the peer reads nothing')
    t.equal(r.conn.listenerCount('drain'), baseline.drain + 1, 'waits on one connection share one listener')
    r.proxy.resume()
    await Promise.all(waits)
    t.ok(unsentBytes(r.socket) < 1024, 'resolved once the bytes were taken')
    t.ok(handedBytes(r.socket) > handed, 'the handed count moved')
    t.ok(r.socket.connected)
    t.same(
      { drain: r.conn.listenerCount('drain'), close: r.conn.listenerCount('close'), ready: r.conn.transport.listenerCount('ready') },
      baseline,
      'no listener is left behind',
    )
    await until(() => r.probes.received === sent + 1, 20_000)
  })

  t.test(`${transport}: a wait resolves when the socket disconnects`, async (t) => {
    const r = await rig(t, transport)
    await backUp(r, 256 * 1024)
    const wait = whenUnsentBelow(r.socket, 1)
    r.client.disconnect()
    r.proxy.resume()
    await wait
    await until(() => r.socket.disconnected)
    t.ok(r.socket.disconnected, 'resolved, and the socket says why')
  })

  t.test(`${transport}: closeTransport lets go of the queue; the client sees "transport close"`, async (t) => {
    const r = await rig(t, transport)
    await backUp(r, 2 * 1024 * 1024)
    const reason = waitFor<string>(r.client, 'disconnect', 20_000)
    t.equal(closeTransport(r.socket), true)
    t.equal(r.conn.writeBuffer.length, 0, 'the queue is let go at once')
    t.not(r.conn.readyState, 'open', 'the transport is closing')
    t.ok(unsentBytes(r.socket) < 2 * 1024 * 1024, 'what the server held for it is gone')
    t.equal(closeTransport(r.socket), false, 'a second call does nothing')
    r.proxy.resume()
    t.equal(await reason, 'transport close')
  })
}

t.test('polling: an answer stuck in its TCP socket counts as unsent; closeTransport ends that connection', async (t) => {
  const r = await rig(t, 'polling')
  await until(() => (r.conn.transport as unknown as { writable: boolean }).writable)
  // The slow-consumer guard reads every socket at its first sample; the answers are followed from then on.
  t.equal(unsentBytes(r.socket), 0)
  r.proxy.stall()
  // The pending poll takes the whole packet at once: more than the kernel holds for a peer that
  // does not read, so the rest waits in the answer's TCP socket, outside engine.io's queue.
  const big = 'y'.repeat(4 * 1024 * 1024)
  r.socket.emit('probe', big)
  t.equal(r.conn.writeBuffer.length, 0, 'engine.io handed the packet to the poll')
  const unsent = unsentBytes(r.socket)
  t.ok(unsent > 1024 * 1024, `${unsent} bytes still in the answer's TCP socket`)
  const reason = waitFor<string>(r.client, 'disconnect', 20_000)
  t.equal(closeTransport(r.socket), true)
  t.equal(unsentBytes(r.socket), 0, 'the stuck answer is let go with its connection')
  r.proxy.resume()
  // The cut answer fails the client's poll: it reconnects all the same.
  t.equal(await reason, 'transport error')
})
