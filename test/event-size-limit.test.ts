import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { Socket as ClientSocket } from 'socket.io-client'
import { DEFAULTS, EventTooLargeError } from '../src/index.ts'
import { AGENT_EVENTS, connectAs, request, startServer } from './helpers.ts'
import { TRANSPORTS } from './flow-helpers.ts'

// maxEventBytes bounds the UTF-8 size of an event's JSON as sent, seq and id included: an event
// of exactly that size goes through, one byte more is refused before anything is recorded or sent.

const CLIENTS = 50
const WORKFLOW = 'wf-size'
const USER = 'size-user'
const LIMIT = DEFAULTS.maxEventBytes

/** JSON bytes of a thought whose content is empty; each content character (ASCII) adds one. */
function emptyThoughtBytes(seq?: number): number {
  const event = { type: 'thought', workflowId: WORKFLOW, data: { content: '' }, timestamp: new Date().toISOString() }
  return Buffer.byteLength(JSON.stringify(seq === undefined ? event : { ...event, seq, id: randomUUID() }))
}

const contentFor = (bytes: number, seq?: number): string => 'a'.repeat(bytes - emptyThoughtBytes(seq))

interface Received {
  name: string
  bytes: number
  seq?: number | undefined
}

function record(socket: ClientSocket): Received[] {
  const received: Received[] = []
  for (const name of AGENT_EVENTS) {
    socket.on(name, (event: { seq?: number }) => received.push({ name, bytes: Buffer.byteLength(JSON.stringify(event)), seq: event.seq }))
  }
  return received
}

async function everyone(lists: Received[][], count: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (lists.some((list) => list.length < count)) {
    if (Date.now() > deadline) throw new Error('not every client got every event')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function tooLarge(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise
  } catch (error) {
    return error as Record<string, unknown>
  }
  throw new Error('expected a rejection')
}

for (const transport of TRANSPORTS) {
  t.test(`${transport}: an event of exactly maxEventBytes reaches ${CLIENTS} clients; one byte more reaches nobody and is not recorded`, async (t) => {
    const server = await startServer(t, { rateLimit: false })
    const { agentEvents } = server.app
    const sockets = await Promise.all(Array.from({ length: CLIENTS }, () => connectAs(t, server, USER, { transports: [transport] })))
    const lists = sockets.map(record)
    for (const socket of sockets) t.match(await request(socket, 'agent:subscribe', { workflowId: WORKFLOW }), { ok: true })

    // Recorded: seq 1, then seq 2 (one digit each).
    const exact = await agentEvents.emitThought(WORKFLOW, contentFor(LIMIT, 1))
    t.equal(Buffer.byteLength(JSON.stringify(exact)), LIMIT, 'the recorded event as sent is exactly maxEventBytes')
    await everyone(lists, 1)
    const over = await tooLarge(agentEvents.emitThought(WORKFLOW, contentFor(LIMIT + 1, 2)))
    t.ok(over instanceof EventTooLargeError, 'EventTooLargeError')
    t.match(over, { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE', statusCode: 413, size: LIMIT + 1, limit: LIMIT })
    t.match(String(over.message), String(LIMIT + 1), 'the message says how large')
    const history = await agentEvents.history(WORKFLOW)
    t.equal(history.lastSeq, 1, 'nothing was recorded')
    t.same(history.events.map((event) => event.seq), [1])

    // Direct: no seq, no id.
    const direct = await agentEvents.emitThought(WORKFLOW, contentFor(LIMIT), { userId: USER })
    t.equal(Buffer.byteLength(JSON.stringify(direct)), LIMIT, 'the direct event as sent is exactly maxEventBytes')
    await everyone(lists, 2)
    const directOver = await tooLarge(agentEvents.emitThought(WORKFLOW, contentFor(LIMIT + 1), { userId: USER }))
    t.match(directOver, { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE', statusCode: 413, size: LIMIT + 1, limit: LIMIT })

    // A last small event: what each client got before it is all it got.
    await agentEvents.emitThought(WORKFLOW, 'end')
    await everyone(lists, 3)
    t.equal((await agentEvents.history(WORKFLOW)).lastSeq, 2, 'the refused event burnt no seq')
    for (const [index, list] of lists.entries()) {
      t.same(
        list.map(({ bytes, seq }) => ({ bytes, seq })),
        [{ bytes: LIMIT, seq: 1 }, { bytes: LIMIT, seq: undefined }, { bytes: list[2]?.bytes, seq: 2 }],
        `client ${index} got both events of maxEventBytes and nothing larger`,
      )
    }
  })
}

t.test('the seq a recorded event will get counts, digit by digit', async (t) => {
  const server = await startServer(t, { rateLimit: false, maxEventBytes: 4096 })
  const { agentEvents } = server.app
  for (let n = 0; n < 9; n++) await agentEvents.emitThought(WORKFLOW, 'x')
  // Exactly 4096 bytes with a one-digit seq is 4097 with seq 10.
  const error = await tooLarge(agentEvents.emitThought(WORKFLOW, contentFor(4096, 1)))
  t.match(error, { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE', size: 4097, limit: 4096 })
  const tenth = await agentEvents.emitThought(WORKFLOW, contentFor(4096, 10))
  t.equal(tenth.seq, 10)
  t.equal(Buffer.byteLength(JSON.stringify(tenth)), 4096)
})

t.test('size counts UTF-8 bytes, not characters', async (t) => {
  const server = await startServer(t, { rateLimit: false, maxEventBytes: 4096 })
  // '€' is 3 bytes in UTF-8: 1400 of them are 4200 bytes in 1400 characters.
  const error = await tooLarge(server.app.agentEvents.emitThought(WORKFLOW, '€'.repeat(1400), { userId: USER }))
  t.match(error, { code: 'FST_AGENT_EVENTS_EVENT_TOO_LARGE', size: emptyThoughtBytes() + 4200, limit: 4096 })
})

t.test('data that JSON cannot carry is refused as an invalid event', async (t) => {
  const server = await startServer(t, { rateLimit: false })
  const cyclic: Record<string, unknown> = { status: 'done' }
  cyclic.self = cyclic
  const error = await tooLarge(server.app.agentEvents.emitResult(WORKFLOW, cyclic))
  t.match(error, { code: 'FST_AGENT_EVENTS_INVALID_EVENT', validation: [{ field: 'data' }] })
  t.equal((await server.app.agentEvents.history(WORKFLOW)).lastSeq, 0, 'nothing was recorded')
})
