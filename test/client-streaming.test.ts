// run.messages: streamed messages rebuilt from agent:delta, ended by their final event or an error,
// also when the replay comes compacted (every subscribe of the client asks for `compact: true`).
import t from 'tap'
import { startServer, until } from './helpers.ts'
import { clientOf, follow } from './client-helpers.ts'

t.test('deltas build the message as it is written; the final event sets the whole text and done', async (t) => {
  const server = await startServer(t, { streaming: { windowMs: 0 } })
  const followed = follow(clientOf(t, server, 'u1'), 'wf-1')
  await until(() => followed.run.status === 'live')
  const stream = server.app.agentEvents.stream('wf-1', { kind: 'result' })
  stream.write('Refund ')
  await until(() => followed.run.messages.get(stream.messageId)?.text === 'Refund ')
  t.same(followed.run.messages.get(stream.messageId), { kind: 'result', text: 'Refund ', done: false })
  stream.write('issued.')
  await stream.end({ status: 'success' })
  await until(() => followed.run.messages.get(stream.messageId)?.done === true)
  t.same(followed.run.messages.get(stream.messageId), { kind: 'result', text: 'Refund issued.', done: true })
  t.same(followed.events.map((event) => event.type), ['delta', 'delta', 'result'], 'onEvent had the deltas too')
})

t.test('an aborted stream ends its message with the error', async (t) => {
  const server = await startServer(t, { streaming: { windowMs: 0 } })
  const followed = follow(clientOf(t, server, 'u1'), 'wf-1')
  await until(() => followed.run.status === 'live')
  const stream = server.app.agentEvents.stream('wf-1', { kind: 'thought' })
  stream.write('Let me')
  await stream.abort({ code: 'MODEL_DOWN', message: 'the model stopped answering' })
  await until(() => followed.run.messages.get(stream.messageId)?.done === true)
  t.match(followed.run.messages.get(stream.messageId), { kind: 'thought', text: 'Let me', done: true, error: { code: 'MODEL_DOWN' } })
})

t.test('a late follower gets a compacted replay and the same messages', async (t) => {
  const server = await startServer(t, { streaming: { windowMs: 0 } })
  const finished = server.app.agentEvents.stream('wf-1', { kind: 'thought' })
  for (const word of ['Looking ', 'at ', 'the ', 'order.']) finished.write(word)
  await finished.end()
  const streaming = server.app.agentEvents.stream('wf-1', { kind: 'result' })
  for (const word of ['Refund ', 'is ', 'on ']) streaming.write(word)
  // Writes are recorded in order but not awaited: wait for the last one.
  while ((await server.app.agentEvents.history('wf-1')).lastSeq < 8) await new Promise((resolve) => setImmediate(resolve))

  const followed = follow(clientOf(t, server, 'u1'), 'wf-1')
  await until(() => followed.run.status === 'live')
  t.same(followed.events.map((event) => event.type), ['thought', 'delta'], 'the finished message whole, the open one as one merged delta')
  t.same(followed.run.messages.get(finished.messageId), { kind: 'thought', text: 'Looking at the order.', done: true })
  t.same(followed.run.messages.get(streaming.messageId), { kind: 'result', text: 'Refund is on ', done: false })
  t.equal(followed.run.lastSeq, 8)

  streaming.write('its way.')
  await streaming.end()
  await until(() => followed.run.messages.get(streaming.messageId)?.done === true)
  t.same(followed.run.messages.get(streaming.messageId), { kind: 'result', text: 'Refund is on its way.', done: true })
})
