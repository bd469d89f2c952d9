import { once, setMaxListeners } from 'node:events'
import type { Namespace } from 'socket.io'
import { withTimeout } from './with-timeout.ts'

/** How long close() waits for clients to receive the shutdown notice before cutting them off. */
export const SHUTDOWN_GRACE_MS = 2000

/**
 * Tell this node's clients that the server is going away, disconnect them, and wait (bounded)
 * until their connections have flushed and closed. A long-polling client only receives queued
 * packets on its next poll, so closing engine.io at once would drop the notice.
 * Only local sockets: with a cluster adapter, namespace-wide calls would reach other nodes too.
 */
export async function disconnectLocalSockets(namespace: Namespace): Promise<void> {
  const closed: Promise<unknown>[] = []
  const abort = new AbortController()
  // One signal serves every socket's wait: without this, more than 10 would warn of a leak.
  setMaxListeners(0, abort.signal)
  for (const socket of namespace.sockets.values()) {
    socket.emit('server:shutdown', { reconnect: true })
    closed.push(once(socket.conn, 'close', { signal: abort.signal }).catch(() => undefined))
    socket.disconnect(true)
  }
  if (closed.length === 0) return
  await withTimeout(Promise.all(closed), SHUTDOWN_GRACE_MS, () => undefined)
  abort.abort()
}
