// Request/response over the IPC channel of a forked child: the orchestrator drives the server
// and the client processes step by step, so every phase of a scenario has a clear start and end.
import type { ChildProcess } from 'node:child_process'

interface Request {
  id: number
  op: string
  args: unknown
}

interface Response {
  id: number
  ok: boolean
  result?: unknown
  error?: string
}

export type Handler = (args: never) => unknown

/** In a child: answer the orchestrator's requests with `handlers[op](args)`. */
export function serve(handlers: Record<string, Handler>): void {
  process.on('message', (message: Request) => {
    const handler = handlers[message.op] as ((args: unknown) => unknown) | undefined
    const reply = (response: Omit<Response, 'id'>): void => void process.send?.({ id: message.id, ...response })
    if (handler === undefined) return reply({ ok: false, error: `unknown op ${message.op}` })
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => reply({ ok: true, result }),
        (error: unknown) => reply({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      )
  })
  process.send?.({ ready: true })
  // The orchestrator is gone: nobody will ever close this process otherwise.
  process.on('disconnect', () => {
    if (!leaving) process.exit(1)
  })
}

let leaving = false

/** Close the IPC channel once the last reply is out; with no other handle left, the process ends by itself. */
export function leave(): void {
  leaving = true
  setImmediate(() => process.disconnect())
}

/** In the orchestrator: a typed caller for one child. */
export type Call = <T = unknown>(op: string, args?: unknown) => Promise<T>

/**
 * In the orchestrator: a caller for one child. Requests wait for the child's `ready` message,
 * sent once it serves (messages sent before that would be dropped).
 */
export function caller(child: ChildProcess): Call {
  let nextId = 0
  let markReady: () => void = () => {}
  let markFailed: (error: Error) => void = () => {}
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve
    markFailed = reject
  })
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  child.on('message', (message: Response | { ready: true }) => {
    if ('ready' in message) return markReady()
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    if (message.ok) waiter.resolve(message.result)
    else waiter.reject(new Error(message.error))
  })
  child.on('exit', (code, signal) => {
    markFailed(new Error(`child exited (${code ?? signal}) before it was ready`))
    for (const waiter of pending.values()) waiter.reject(new Error(`child exited (${code ?? signal}) before answering`))
    pending.clear()
  })
  return async <T>(op: string, args?: unknown) => {
    await ready
    return new Promise<T>((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      child.send({ id, op, args } satisfies Request)
    })
  }
}
