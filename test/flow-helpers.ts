import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Socket } from 'socket.io'
import type { Socket as ClientSocket } from 'socket.io-client'
import { AGENT_EVENTS, type TestServer } from './helpers.ts'

export const TRANSPORTS = ['websocket', 'polling'] as const
export type TransportName = (typeof TRANSPORTS)[number]

/** The server's side of a connected client. */
export function serverSocketOf(server: TestServer, client: ClientSocket): Socket {
  const socket = server.app.agentEvents.io.of('/').sockets.get(client.id ?? '')
  if (socket === undefined) throw new Error(`no server-side socket for ${client.id}`)
  return socket
}

/**
 * The `seq` of every workflow event a client receives, in order, without keeping the events
 * themselves (a test that weighs the server's heap must not hold them in the same process).
 */
export class SeqCollector {
  readonly seqs: number[] = []
  #waiters: { count: number; resolve: () => void }[] = []

  /** Listens to `socket`'s workflow events, or only counts what `add` is given. */
  constructor(socket?: ClientSocket) {
    for (const name of AGENT_EVENTS) socket?.on(name, (event: { seq?: number }) => this.add(event.seq ?? 0))
  }

  add(seq: number): void {
    this.seqs.push(seq)
    this.#waiters = this.#waiters.filter((waiter) => (this.seqs.length >= waiter.count ? void waiter.resolve() : true))
  }

  /** Resolves once `count` events have arrived; rejects after `ms`. */
  reached(count: number, ms = 60_000): Promise<void> {
    if (this.seqs.length >= count) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.seqs.length} of ${count} events arrived`)), ms)
      // A test that fails otherwise must not wait for this.
      timer.unref()
      this.#waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) })
    })
  }
}

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** What the process holds once garbage is collected: the V8 heap and the memory outside it (Buffers). */
export function heldBytes(): { heapUsed: number; external: number; total: number } {
  gc()
  gc()
  const { heapUsed, external } = process.memoryUsage()
  return { heapUsed, external, total: heapUsed + external }
}

export const MiB = 1024 * 1024
