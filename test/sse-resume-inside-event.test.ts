// A stream cut inside the messages of one recorded event (AG-UI's TOOL_CALL_START before its
// TOOL_CALL_ARGS, the UI stream's finish-step before its start-step…), read as raw bytes over
// node:http and resumed with the last event id the client had: the client must get the rest of
// that event. Only the last message of an event carries its `seq` as `id:`, so such a client
// resumes after the event before and gets this one whole again, in place of what it had of it.
import t, { type Test } from 'tap'
import { playRun } from '../examples/demo/agent-run.ts'
import { agUiEvents, verified } from './ag-ui-events.ts'
import { startServer, type TestServer } from './helpers.ts'
import { keptOnResume, messageEnds, parseSse, readBytes, readCutAt, sseRequest, type SseMessageRead, type SseRead } from './sse-client.ts'
import { parseUiMessageSse, readMessage, sseBody } from './ui-message-chunks.ts'

const WORKFLOW = 'wf-cut-1'

/** A server with both bridges' routes and the demo's successful run recorded on `WORKFLOW`. */
async function recordedRun(t: Test): Promise<TestServer> {
  const server = await startServer(t, { rateLimit: false }, {
    before(app) {
      app.get<{ Params: { id: string } }>('/ag-ui/:id', { onRequest: (req) => req.jwtVerify() }, async (req, reply) => reply.agUi(req.params.id))
      app.get<{ Params: { id: string } }>('/ui/:id', { onRequest: (req) => req.jwtVerify() }, async (req, reply) => reply.uiMessageStream(req.params.id))
    },
  })
  await playRun(server.app.agentEvents, WORKFLOW, { scenario: 'success', stepMs: 0, tokenMs: 0, signal: new AbortController().signal })
  return server
}

function parse(body: Buffer): SseRead {
  const read: SseRead = { messages: [], comments: [] }
  parseSse(body.toString('utf8'), read)
  return read
}

/**
 * The messages after which a cut falls inside a recorded event: those that have a later message
 * of the same event. An event's messages are those up to the next one with `id:`, or, were `id:`
 * on every message, a run of messages with the same `id:`.
 */
function insideEvents(messages: readonly SseMessageRead[]): number[] {
  const cuts: number[] = []
  for (const [i, message] of messages.entries()) {
    const next = messages[i + 1]
    if (next === undefined || !messages.slice(i + 1).some((later) => later.id !== undefined)) continue
    if (message.id === undefined || message.id === next.id) cuts.push(i)
  }
  return cuts
}

interface Resumed {
  /** What the client has in the end: what it kept of the cut stream, then the resumed one. */
  joined: SseMessageRead[]
  lastEventId: string | undefined
}

/** Read `path` as raw bytes, cut after its message `index`, and resume with the last event id read. */
async function cutAndResume(server: TestServer, path: string, ends: readonly number[], index: number): Promise<Resumed> {
  const authorization = `Bearer ${server.token('alice')}`
  const first = await sseRequest(`${server.url}${path}`, { headers: { authorization } })
  const cut = parse(await readCutAt(first, ends[index] as number))
  const { lastEventId } = cut
  const second = await sseRequest(`${server.url}${path}`, {
    headers: { authorization, ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
  })
  const rest = parse(await readBytes(second)).messages
  return { joined: [...keptOnResume(cut.messages), ...rest], lastEventId }
}

function uiMessageOf(messages: readonly SseMessageRead[]) {
  return readMessage(parseUiMessageSse(sseBody(messages.map((message) => `data: ${message.data}\n\n`).join(''))))
}

t.test('AG-UI: cut inside an event\'s messages, resumed with the last event id, the run is whole and valid', async (t) => {
  const server = await recordedRun(t)
  const whole = await readBytes(await sseRequest(`${server.url}/ag-ui/${WORKFLOW}`, { headers: { authorization: `Bearer ${server.token('alice')}` } }))
  const wholeMessages = parse(whole).messages
  await verified(agUiEvents(t, wholeMessages))
  const cuts = insideEvents(wholeMessages)
  const cutTypes = new Set(cuts.map((i) => (JSON.parse(wholeMessages[i]?.data ?? '{}') as { type: string }).type))
  t.ok(cutTypes.has('TOOL_CALL_START') && cutTypes.has('REASONING_START'), `cuts after ${[...cutTypes].join(', ')}`)
  const ends = messageEnds(whole)
  t.equal(ends.length, wholeMessages.length)
  for (const index of cuts) {
    const { joined, lastEventId } = await cutAndResume(server, `/ag-ui/${WORKFLOW}`, ends, index)
    const what = `cut after message ${index} (${JSON.parse(wholeMessages[index]?.data ?? '{}').type}), resumed after ${lastEventId ?? 'nothing'}`
    t.same(joined, wholeMessages, what)
    await t.resolves(verified(agUiEvents(t, joined)), `${what}: @ag-ui/client verifies the sequence`)
  }
  t.ok(cuts.length >= 10, `${cuts.length} cuts inside events checked`)
})

t.test('UI message stream: cut inside an event\'s chunks, resumed with the last event id, readUIMessageStream rebuilds the same message', async (t) => {
  const server = await recordedRun(t)
  const whole = await readBytes(await sseRequest(`${server.url}/ui/${WORKFLOW}`, { headers: { authorization: `Bearer ${server.token('alice')}` } }))
  const wholeMessages = parse(whole).messages
  const expected = await uiMessageOf(wholeMessages)
  t.same(expected.errors, [])
  const cuts = insideEvents(wholeMessages)
  const cutTypes = new Set(cuts.map((i) => (JSON.parse(wholeMessages[i]?.data ?? '{}') as { type: string }).type))
  t.ok(cutTypes.has('finish-step') && cutTypes.has('reasoning-start'), `cuts after ${[...cutTypes].join(', ')}`)
  const ends = messageEnds(whole)
  for (const index of cuts) {
    const { joined, lastEventId } = await cutAndResume(server, `/ui/${WORKFLOW}`, ends, index)
    const what = `cut after message ${index} (${JSON.parse(wholeMessages[index]?.data ?? '{}').type}), resumed after ${lastEventId ?? 'nothing'}`
    t.same(joined, wholeMessages, what)
    const rebuilt = await uiMessageOf(joined)
    t.same(rebuilt, expected, `${what}: the same final message, no chunk refused`)
  }
  t.ok(cuts.length >= 10, `${cuts.length} cuts inside events checked`)
})
