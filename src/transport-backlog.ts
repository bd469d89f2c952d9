import type { Socket } from 'socket.io'

interface EnginePacket {
  data?: unknown
}
interface EngineConnection {
  writeBuffer: EnginePacket[]
  transport: { socket?: { bufferedAmount?: unknown } }
  on(event: 'drain', listener: () => void): void
  off(event: 'drain', listener: () => void): void
}

function byteSize(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength
  return 0
}

/** Bytes the socket's transport has not yet handed to the peer. */
export function unsentBytes(socket: Socket): number {
  const conn = socket.conn as unknown as EngineConnection
  let bytes = 0
  for (const packet of conn.writeBuffer) bytes += byteSize(packet.data)
  const amount = conn.transport.socket?.bufferedAmount
  return bytes + (typeof amount === 'number' ? amount : 0)
}

/** Resolves once `unsentBytes(socket) < bytes`, or once the socket disconnected. */
export function whenUnsentBelow(socket: Socket, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const conn = socket.conn as unknown as EngineConnection
    const check = (): void => {
      if (socket.connected && unsentBytes(socket) >= bytes) return
      clearInterval(timer)
      conn.off('drain', check)
      resolve()
    }
    const timer = setInterval(check, 20)
    conn.on('drain', check)
  })
}
