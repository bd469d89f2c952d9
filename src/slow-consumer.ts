import type { FastifyBaseLogger } from 'fastify'
import type { Socket } from 'socket.io'

/** The parts of engine.io's connection that hold unsent data. */
interface EnginePacket {
  data?: unknown
}
interface EngineConnection {
  writeBuffer: EnginePacket[]
  transport: { name?: string; socket?: { bufferedAmount?: unknown; terminate?: () => void } }
  on(event: 'packetCreate', listener: (packet: EnginePacket) => void): void
  on(event: 'flush', listener: () => void): void
  off(event: string, listener: (...args: never[]) => void): void
  close(discard: boolean): void
}

function byteSize(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength
  return 0
}

/**
 * Disconnect a socket whose unsent data passes `maxBufferedBytes`: one stalled tab must not grow
 * the server's memory without bound. Unsent data is what engine.io queues while the transport is
 * busy (`writeBuffer`, filled once the peer stops reading) plus what the websocket has handed to
 * the TCP socket without the kernel taking it yet (`bufferedAmount`). The client recovers by
 * reconnecting and replaying with `afterSeq`.
 */
export function watchSlowConsumer(socket: Socket, maxBufferedBytes: number, log: FastifyBaseLogger): void {
  const conn = socket.conn as unknown as EngineConnection
  // Bytes in `writeBuffer`, counted as packets are queued; a flush hands all of them to the transport.
  let queued = 0
  const transportBuffered = (): number => {
    const amount = conn.transport.socket?.bufferedAmount
    return typeof amount === 'number' ? amount : 0
  }
  const onPacket = (packet: EnginePacket): void => {
    queued += byteSize(packet.data)
    const unsent = queued + transportBuffered()
    if (unsent > maxBufferedBytes) drop(unsent)
  }
  const onFlush = (): void => {
    queued = 0
  }
  const detach = (): void => {
    conn.off('packetCreate', onPacket)
    conn.off('flush', onFlush)
  }
  const drop = (unsent: number): void => {
    detach()
    log.warn({ socketId: socket.id, unsentBytes: unsent, maxBufferedBytes }, 'slow consumer disconnected')
    // Let go of the queue now: waiting for it to drain is what a stalled peer never allows.
    conn.writeBuffer.length = 0
    socket.disconnect(true)
    // `discard`: close the transport at once instead of after a drain that will not come.
    conn.close(true)
    // A websocket whose peer stopped reading cannot complete a close handshake: end the TCP connection.
    conn.transport.socket?.terminate?.()
  }
  conn.on('packetCreate', onPacket)
  conn.on('flush', onFlush)
  socket.once('disconnect', detach)
}
