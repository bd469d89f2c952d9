// An unknown event never costs the connection, except for the packets that Socket.IO's own parser
// refuses: then Socket.IO closes the connection before any listener of the plugin runs. The README
// names them; this test sends each as a raw packet (socket.io-client refuses to emit the reserved
// names) and fails when Socket.IO's list changes or the README's no longer matches it.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { connectAs, request, startServer, waitFor, type TestServer } from './helpers.ts'

/** Event names that Socket.IO 4 reserves (`RESERVED_EVENTS` of socket.io and socket.io-parser). */
const RESERVED = ['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']

/** Names that look special but are not reserved by the parser: each gets an answer and the socket stays. */
const NOT_RESERVED = ['error', 'message', 'ping', 'pong', 'open', 'close', 'packet', 'data', 'drain', 'upgrade',
  'connecting', 'reconnect', 'disconnected', 'Disconnect', 'agent:nope', 'agent:subscribe']

type Fate = 'stays connected' | `closed: ${string}`

/**
 * Send one raw Socket.IO EVENT packet (`2` then its JSON array) on the main namespace, then an
 * ordinary request: its answer proves the connection survived; a disconnect first, that it did not.
 */
async function fateOf(t: Test, server: TestServer, packetData: string): Promise<Fate> {
  const socket = await connectAs(t, server, 'mallory')
  const closed = waitFor<string>(socket, 'disconnect').then((reason): Fate => `closed: ${reason}`)
  socket.io.engine.write(`2${packetData}`)
  // A request pending when the connection closes is rejected before 'disconnect' is emitted.
  const answered = request(socket, 'agent:unsubscribe', { workflowId: 'wf' }).then((): Fate => 'stays connected', () => closed)
  const fate = await Promise.race([closed, answered])
  socket.disconnect()
  return fate
}

t.test('an event named like a reserved Socket.IO event closes the connection; any other name does not', async (t) => {
  const server = await startServer(t)
  for (const name of RESERVED) {
    t.equal(await fateOf(t, server, JSON.stringify([name, {}])), 'closed: transport close', `"${name}"`)
  }
  for (const name of NOT_RESERVED) {
    t.equal(await fateOf(t, server, JSON.stringify([name, {}])), 'stays connected', `"${name}"`)
  }
})

t.test('an event whose name is neither a string nor a number closes the connection; a number does not', async (t) => {
  const server = await startServer(t)
  for (const data of ['[]', '[null]', '[{"a":1}]', '[["agent:subscribe"]]', '{"0":"agent:subscribe"}', '[true']) {
    t.equal(await fateOf(t, server, data), 'closed: transport close', data)
  }
  t.equal(await fateOf(t, server, '[7,{}]'), 'stays connected', '[7,{}]')
})

t.test('the README names exactly the reserved names in its "bad messages" row', async (t) => {
  const readme = await readFile(join(import.meta.dirname, '..', 'README.md'), 'utf8')
  const row = readme.split('\n').find((line) => line.startsWith('| bad messages |')) ?? ''
  for (const name of RESERVED) t.ok(row.includes(`\`${name}\``), `${name} is named`)
  t.match(row, /closes the connection/, 'it says what happens')
})
