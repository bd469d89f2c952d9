import type { EventEmitter } from 'node:events'
import type { Socket as TcpSocket } from 'node:net'
import type { Socket } from 'socket.io'

// The one module that reads engine.io's internals (engine.io 6.6, ws 8): Socket.IO has no public
// measure of what a connection still holds for its peer. It reads `Socket#writeBuffer`, the
// websocket transport's `socket` (a `ws` WebSocket) and that one's `_socket`, the polling
// transport's `res`, the server's `flush` event and the transport's `ready` event.
// test/transport-backlog.test.ts checks each of them over real sockets and both transports, so
// that an engine.io upgrade that changes them fails loudly there rather than quietly here.

/** A packet waiting in engine.io's queue: `data` is the encoded Socket.IO packet. */
interface EnginePacket {
  data?: unknown
}

/** engine.io's websocket transport wraps a `ws` WebSocket, which wraps the TCP socket. */
interface WsSocket {
  /** Public `ws` API: bytes handed to `send()` and not yet written to the TCP socket. */
  readonly bufferedAmount: number
  /** `ws`'s own field (engine.io reads it too, for `remoteAddress`). */
  readonly _socket?: TcpSocket | null
  terminate(): void
}

interface EngineTransport extends EventEmitter {
  readonly name: string
  /** websocket: the `ws` WebSocket. */
  readonly socket?: WsSocket
  /** polling: the pending poll's response, set from the poll's arrival until the answer is written. */
  readonly res?: { readonly socket: TcpSocket | null } | null
}

interface EngineConnection extends EventEmitter {
  readyState: string
  /** Packets queued while the transport is busy writing (websocket) or waiting for a poll. */
  writeBuffer: EnginePacket[]
  transport: EngineTransport
  close(discard?: boolean): void
}

type EngineServer = EventEmitter

/** Packets carry a one-character engine.io type ahead of their data, on both transports. */
const PACKET_TYPE_BYTES = 1
/** How often a wait re-checks by itself: bytes that leave the TCP socket raise no engine.io event. */
export const UNSENT_RECHECK_MS = 250

const connectionOf = (socket: Socket): EngineConnection => socket.conn as unknown as EngineConnection

function packetBytes(packet: EnginePacket): number {
  const { data } = packet
  if (typeof data === 'string') return PACKET_TYPE_BYTES + Buffer.byteLength(data)
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return PACKET_TYPE_BYTES + data.byteLength
  return PACKET_TYPE_BYTES
}

/** Bytes a TCP socket has written to the kernel, that is handed to the peer: whole writes only. */
function tcpHandedBytes(tcp: TcpSocket): number {
  return (tcp.bytesWritten ?? 0) - tcp.writableLength
}

/**
 * A polling transport writes each answer to the poll's own HTTP response and forgets it at once,
 * so the TCP socket of the latest answer is noted when engine.io flushes its queue into it. `base`
 * carries the bytes handed through earlier TCP sockets, so that `handedBytes` only ever grows.
 */
interface PollAnswer {
  tcp: TcpSocket
  /** `handedBytes` when this TCP socket was noted. */
  base: number
  /** The socket's own handed bytes when it was noted. */
  start: number
}
const pollAnswers = new WeakMap<EngineConnection, PollAnswer>()
const followedServers = new WeakSet<EngineServer>()

function pollAnswerHanded(answer: PollAnswer): number {
  return answer.base + tcpHandedBytes(answer.tcp) - answer.start
}

/** Called for every flush of the engine.io server (its `flush` event names the connection): one listener, none per socket. */
function notePollAnswer(conn: EngineConnection): void {
  const { transport } = conn
  if (transport.name !== 'polling') return
  const tcp = transport.res?.socket
  if (tcp == null) return
  const previous = pollAnswers.get(conn)
  if (previous?.tcp === tcp) return
  pollAnswers.set(conn, { tcp, base: previous === undefined ? 0 : pollAnswerHanded(previous), start: tcpHandedBytes(tcp) })
}

/**
 * Follow a polling connection's answers: from the first call on, through the engine.io server's
 * `flush` event; and the poll pending now, if any, since the next answer is written to it.
 */
function followPollAnswers(socket: Socket, conn: EngineConnection): PollAnswer | undefined {
  const engine = socket.nsp.server.engine as unknown as EngineServer
  if (!followedServers.has(engine)) {
    followedServers.add(engine)
    engine.on('flush', notePollAnswer)
  }
  notePollAnswer(conn)
  return pollAnswers.get(conn)
}

/** What `queuedBytes` has counted of one connection's queue so far. */
interface QueueTally {
  queue: EnginePacket[]
  counted: number
  bytes: number
}
const tallies = new WeakMap<EngineConnection, QueueTally>()

/**
 * Bytes of the packets in engine.io's queue. A replay asks after every event it writes while the
 * queue grows by one packet each time, so the packets already counted are not counted again:
 * engine.io only appends to its queue, and replaces it with a new array when it flushes. An empty
 * queue keeps no tally, so an idle connection costs nothing here.
 */
function queuedBytes(conn: EngineConnection): number {
  const queue = conn.writeBuffer
  if (queue.length === 0) {
    tallies.delete(conn)
    return 0
  }
  let tally = tallies.get(conn)
  if (tally === undefined || tally.queue !== queue || tally.counted > queue.length) {
    tally = { queue, counted: 0, bytes: 0 }
    tallies.set(conn, tally)
  }
  for (let index = tally.counted; index < queue.length; index++) tally.bytes += packetBytes(queue[index] as EnginePacket)
  tally.counted = queue.length
  return tally.bytes
}

/**
 * Bytes that the socket's transport has not yet handed to the peer: the packets queued in
 * engine.io, plus what the websocket holds above the TCP socket's kernel buffer (`ws`
 * `bufferedAmount`), or what the latest poll answer still holds. A write counts whole until the
 * kernel has taken all of it. Computed when asked, from the transport's own counters: nothing is
 * counted per packet.
 */
export function unsentBytes(socket: Socket): number {
  const conn = connectionOf(socket)
  let bytes = queuedBytes(conn)
  const { transport } = conn
  if (transport.name === 'websocket') {
    bytes += transport.socket?.bufferedAmount ?? 0
  } else if (transport.name === 'polling') {
    const answer = followPollAnswers(socket, conn)
    // A destroyed socket has let go of what it held.
    if (answer !== undefined && !answer.tcp.destroyed) bytes += answer.tcp.writableLength
  }
  return bytes
}

/**
 * A running count of the bytes that the socket's transport has handed to the peer (written to the
 * kernel, whole writes at a time). Two readings that differ mean the peer took data in between;
 * the count may jump when the transport changes (an upgrade), which also means the peer is alive.
 */
export function handedBytes(socket: Socket): number {
  const conn = connectionOf(socket)
  const { transport } = conn
  if (transport.name === 'websocket') {
    const tcp = transport.socket?._socket
    return tcp == null ? 0 : tcpHandedBytes(tcp)
  }
  if (transport.name === 'polling') {
    const answer = followPollAnswers(socket, conn)
    return answer === undefined ? 0 : pollAnswerHanded(answer)
  }
  return 0
}

interface Waiter {
  socket: Socket
  below: number
  resolve: () => void
}

/** The waits on one connection share one set of listeners and one timer, whatever their number. */
interface ConnectionWatch {
  conn: EngineConnection
  transport: EngineTransport
  waiters: Waiter[]
  timer: NodeJS.Timeout
  check: () => void
}
const watches = new WeakMap<EngineConnection, ConnectionWatch>()

function settle(watch: ConnectionWatch): void {
  const { conn } = watch
  if (conn.transport !== watch.transport) {
    // Upgraded meanwhile: listen to the transport in use.
    watch.transport.off('ready', watch.check)
    watch.transport = conn.transport
    watch.transport.on('ready', watch.check)
  }
  const closed = conn.readyState === 'closed'
  let unsent: number | undefined
  const waiting: Waiter[] = []
  for (const waiter of watch.waiters) {
    if (closed || waiter.socket.disconnected || (unsent ??= unsentBytes(waiter.socket)) < waiter.below) waiter.resolve()
    else waiting.push(waiter)
  }
  watch.waiters = waiting
  if (waiting.length > 0) return
  clearInterval(watch.timer)
  conn.off('drain', watch.check)
  conn.off('close', watch.check)
  watch.transport.off('ready', watch.check)
  watches.delete(conn)
}

/**
 * Resolves once `unsentBytes(socket) < bytes`, or once the socket disconnects (check
 * `socket.disconnected` afterwards). Woken by engine.io's own events: the connection's `drain`
 * (its queue went to the transport), `close`, and the transport's `ready` (a websocket write
 * completed; a new poll arrived), with a re-check every `UNSENT_RECHECK_MS` for bytes that leave
 * without an event. Nothing is left behind once it resolves.
 */
export function whenUnsentBelow(socket: Socket, bytes: number): Promise<void> {
  if (socket.disconnected || unsentBytes(socket) < bytes) return Promise.resolve()
  const conn = connectionOf(socket)
  return new Promise((resolve) => {
    let watch = watches.get(conn)
    if (watch === undefined) {
      const created: ConnectionWatch = {
        conn,
        transport: conn.transport,
        waiters: [],
        timer: undefined as unknown as NodeJS.Timeout,
        check: () => settle(created),
      }
      conn.on('drain', created.check)
      conn.on('close', created.check)
      created.transport.on('ready', created.check)
      created.timer = setInterval(created.check, UNSENT_RECHECK_MS)
      created.timer.unref()
      watches.set(conn, created)
      watch = created
    }
    watch.waiters.push({ socket, below: bytes, resolve })
  })
}

/**
 * Close the socket's transport at once and let go of everything queued for it, without a
 * Socket.IO disconnect packet: the client sees `transport close` and reconnects by itself.
 * A websocket's TCP connection is ended too, since a peer that stopped reading cannot complete a
 * close handshake. A polling client gets the close with its pending poll, or with its next one
 * (engine.io gives up waiting after 30 s); where the latest answer is still stuck in the TCP
 * socket, that connection is ended too. Returns `false` when the transport was already closing.
 */
export function closeTransport(socket: Socket): boolean {
  const conn = connectionOf(socket)
  if (conn.readyState !== 'open') return false
  conn.writeBuffer.length = 0
  tallies.delete(conn)
  const { transport } = conn
  if (transport.name === 'websocket') {
    conn.close(true)
    transport.socket?.terminate()
    return true
  }
  const stuck = transport.name === 'polling' ? pollAnswers.get(conn)?.tcp : undefined
  if (stuck !== undefined && stuck.writableLength > 0) {
    stuck.destroy()
    conn.close(true)
    return true
  }
  conn.close(false)
  return true
}
