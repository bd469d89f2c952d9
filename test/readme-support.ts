// What test/readme.test.ts supplies around a README block when it runs it: the server a client
// block talks to, the reader's own functions, and a way to report what happened. Imported by the
// generated block files, in their own process.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import agentEvents from 'fastify-agent-events'
import type { ClientToServerEvents, ServerToClientEvents } from 'fastify-agent-events/schemas'
import { io, type Socket } from 'socket.io-client'
import { RESULT_MARK } from './readme-blocks.ts'
import { until as waitUntil } from './until.ts'

export const README_SECRET = 'readme-test-secret-long-enough-for-hs256'

/** Print what a block did, for the test to read from stdout. */
export function report(result: unknown): void {
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`)
}

/** Wait until `predicate` holds (an async one is awaited), on the event loop; fail after `ms`. */
export function until(predicate: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  return waitUntil(predicate, ms)
}

/** Listen on a free port of 127.0.0.1; resolves with the origin. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>

/** A connected client with `token`; it does not reconnect. */
export async function connect(url: string, path: string, token: string): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { path, auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true })
  await once(socket as never, 'connect', { signal: AbortSignal.timeout(10_000) })
  return socket
}

/** Subscribe as the holder of `token`; resolves with `'ok'` or the error code. */
export async function subscribeWith(url: string, path: string, token: string, workflowId: string): Promise<string> {
  const socket = await connect(url, path, token)
  const ack = await socket.timeout(10_000).emitWithAck('agent:subscribe', { workflowId })
  socket.disconnect()
  return ack.ok ? 'ok' : ack.error.code
}

/** The next payload of a server event. */
export async function next(socket: ClientSocket, event: keyof ServerToClientEvents): Promise<unknown> {
  const [payload] = (await once(socket as never, event, { signal: AbortSignal.timeout(10_000) })) as [unknown]
  return payload
}

export interface ReadmeServer {
  app: FastifyInstance
  /** The server's origin, where a README client block says `apiUrl`. */
  apiUrl: string
  token(sub: string): string
  /**
   * Resolves when a socket joins the room of `workflowId` (the plugin's rooms are `workflow:<id>`):
   * the subscription that a client block sent has reached the server.
   */
  joined(workflowId: string): Promise<void>
  close(): Promise<void>
}

/** The server that the README's client blocks talk to: the plugin on `/ws`, users follow `<their name>-…` workflows. */
export async function readmeServer(): Promise<ReadmeServer> {
  const app = Fastify()
  await app.register(fastifyJwt, { secret: README_SECRET })
  await app.register(agentEvents, { path: '/ws', authorize: () => true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return {
    app,
    apiUrl: `http://127.0.0.1:${port}`,
    token: (sub) => app.jwt.sign({ sub }, { expiresIn: '10m' }),
    joined: (workflowId) => new Promise((resolve) => {
      const adapter = app.agentEvents.io.of('/').adapter
      const onJoin = (room: unknown): void => {
        if (room !== `workflow:${workflowId}`) return
        adapter.off('join-room', onJoin)
        resolve()
      }
      adapter.on('join-room', onJoin)
    }),
    close: () => app.close(),
  }
}

/** `sessionStorage` for a browser block run by Node. */
export function memoryStorage(): { getItem(key: string): string | null; setItem(key: string, value: string): void } {
  const items = new Map<string, string>()
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
  }
}

/**
 * The reader's own AI SDK model, for the `pipe` block: the AI SDK's mock language model, whose
 * first call thinks, says a few words and calls `weather`, and whose second answers.
 */
export async function aiModel(): Promise<import('ai/test').MockLanguageModelV4> {
  // Imported here, not at the top: the other blocks' processes need not load the AI SDK.
  const { MockLanguageModelV4 } = await import('ai/test')
  const { simulateReadableStream } = await import('ai')
  const usage = { inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 20, text: 20, reasoning: 0 } }
  const steps = [
    [
      { type: 'reasoning-start', id: 'r0' },
      { type: 'reasoning-delta', id: 'r0', delta: 'The user wants the weather.' },
      { type: 'reasoning-end', id: 'r0' },
      { type: 'text-start', id: 'txt-0' },
      { type: 'text-delta', id: 'txt-0', delta: 'Let me check.' },
      { type: 'text-end', id: 'txt-0' },
      { type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: '{"city":"Paris"}' },
      { type: 'finish', finishReason: { unified: 'tool-calls', raw: 'tool_calls' }, usage },
    ],
    [
      { type: 'text-start', id: 'txt-0' },
      { type: 'text-delta', id: 'txt-0', delta: 'It is sunny ' },
      { type: 'text-delta', id: 'txt-0', delta: 'in Paris.' },
      { type: 'text-end', id: 'txt-0' },
      { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage },
    ],
  ]
  return new MockLanguageModelV4({ doStream: steps.map((chunks) => ({ stream: simulateReadableStream({ chunks, chunkDelayInMs: 1 }) as never })) })
}

/** The reader's own tools, for the `pipe` block. */
export async function aiTools() {
  const { jsonSchema, tool } = await import('ai')
  return {
    weather: tool({
      inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
      execute: async ({ city }) => ({ city, sky: 'sunny' }),
    }),
  }
}

/** The reader's own agent, for the AG-UI block: a streamed thought, a tool call, a streamed answer. */
export async function runAgent(events: import('fastify-agent-events').AgentEventsDecorator, workflowId: string, _messages: unknown[]): Promise<void> {
  const thought = events.stream(workflowId, { kind: 'thought' })
  for (const piece of ['Looking ', 'it up.']) thought.write(piece)
  await thought.end()
  await events.emitToolCall(workflowId, { tool_name: 'weather', status: 'in_progress', tool_call_id: 'call-1', input: { city: 'Paris' } })
  await events.emitToolCall(workflowId, { tool_name: 'weather', status: 'completed', tool_call_id: 'call-1', output: { sky: 'sunny' } })
  const answer = events.stream(workflowId, { kind: 'result' })
  for (const piece of ['It is ', 'sunny.']) answer.write(piece)
  await answer.end({ status: 'success' })
}

/** Run an AG-UI endpoint with `@ag-ui/client`'s HttpAgent: the events' types, the run's result and its new messages' roles. */
export async function agUiRun(url: string, token: string): Promise<{ types: string[]; result: unknown; roles: string[] }> {
  const { HttpAgent } = await import('@ag-ui/client')
  const agent = new HttpAgent({ url, headers: { authorization: `Bearer ${token}` }, threadId: 'thread-readme' })
  const types: string[] = []
  agent.subscribe({ onEvent: ({ event }) => void types.push(event.type) })
  const { result, newMessages } = await agent.runAgent({ runId: 'run-readme' })
  return { types, result, roles: newMessages.map((message) => message.role) }
}
