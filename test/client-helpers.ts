import type { Socket as ServerSocket } from 'socket.io'
import type { Test } from 'tap'
import { createAgentEventsClient, type AgentEventsClient, type AgentEventsClientOptions, type FollowOptions, type RunStatus, type WorkflowRun } from '../src/client/index.ts'
import type { AgentEvent } from '../src/schemas/index.ts'
import type { TestServer } from './helpers.ts'

/** A client of `server` as `userId` (a fresh token at every connect), websocket only, no storage; closed when the test ends. */
export function clientOf(t: Test, server: TestServer, userId: string, options: AgentEventsClientOptions = {}): AgentEventsClient {
  const client = createAgentEventsClient(server.url, {
    token: () => server.token(userId),
    storage: false,
    socket: { transports: ['websocket'] },
    ...options,
  })
  t.teardown(() => client.close())
  return client
}

export interface Followed {
  run: WorkflowRun
  events: AgentEvent[]
  resets: string[]
  errors: { code: string }[]
  /** Each status that `onStatus` told, in order. */
  statuses: RunStatus[]
  /** Each event's seq and each reset (`reset:epoch`), in the order the run reported them. */
  log: (number | string)[]
}

/** Follow `workflowId`, keeping every event, reset, error and status the run reports. */
export function follow(client: AgentEventsClient, workflowId: string, options: FollowOptions = {}): Followed {
  const followed: Followed = { run: undefined as unknown as WorkflowRun, events: [], resets: [], errors: [], statuses: [], log: [] }
  followed.run = client.follow(workflowId, {
    onEvent: (event) => {
      followed.events.push(event)
      followed.log.push(event.seq ?? 'direct')
      options.onEvent?.(event)
    },
    onReset: (info) => {
      followed.resets.push(info.reason)
      followed.log.push(`reset:${info.reason}`)
      options.onReset?.(info)
    },
    onError: (error) => {
      followed.errors.push(error)
      options.onError?.(error)
    },
    onStatus: (status) => {
      followed.statuses.push(status)
      options.onStatus?.(status)
    },
  })
  return followed
}

/** Resolve once the client's status is `status`. */
export function statusReached(client: AgentEventsClient, status: AgentEventsClient['status']): Promise<void> {
  if (client.status === status) return Promise.resolve()
  return new Promise((resolve) => {
    const stop = client.on('status', (now) => {
      if (now !== status) return
      stop()
      resolve()
    })
  })
}

/** Resolve once `run` tells that its status is `status` (at once where it already is). */
export function runStatusReached(run: WorkflowRun, status: RunStatus): Promise<void> {
  if (run.status === status) return Promise.resolve()
  return new Promise((resolve) => {
    const stop = run.on('status', (now) => {
      if (now !== status) return
      stop()
      resolve()
    })
  })
}

/** The server side of every connected socket of `server`'s namespace. */
export function serverSockets(server: TestServer, namespace = '/'): ServerSocket[] {
  return [...server.app.agentEvents.io.of(namespace).sockets.values()]
}

/** Count the `agent:subscribe` requests that reach `server` from now on, by workflow, refused ones included. */
export function countSubscribes(server: TestServer, namespace = '/'): Map<string, number> {
  const counts = new Map<string, number>()
  server.app.agentEvents.io.of(namespace).on('connection', (socket: ServerSocket) => {
    socket.conn.on('packet', (packet: { type: string; data?: unknown }) => {
      const match = packet.type === 'message' && /"agent:subscribe",\{"workflowId":"([^"]+)"/.exec(String(packet.data))
      if (match) counts.set(match[1] as string, (counts.get(match[1] as string) ?? 0) + 1)
    })
  })
  return counts
}
