import t from 'tap'
import type { Socket as ClientSocket } from 'socket.io-client'
import { AGENT_EVENTS, client, collect, connectAs, request, startServer, until, waitFor, type TestServer } from './helpers.ts'
import { nowSeconds, hs256 } from './forge.ts'
import { SECRET } from './helpers.ts'
import { seededRandom } from './random.ts'

// Random malformed traffic from several sockets while a healthy client follows a workflow. The
// seed is fixed and printed: FUZZ_SEED=<n> replays a run exactly.

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2026)
const ROUNDS = 100
const TYPED_SOCKETS = 4
const PACKETS_PER_SOCKET_PER_ROUND = 26
const RAW_PACKETS_PER_ROUND = 16
const EVENTS_PER_ROUND = 3
/** Kept under maxHttpBufferSize (100 000): larger payloads are allowed to cost the connection. */
const MAX_PACKET_CHARS = 90_000

const random = seededRandom(SEED)
const int = (below: number): number => Math.floor(random() * below)
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T

const EVENT_NAMES = [
  'agent:subscribe', 'agent:unsubscribe', 'auth:refresh', 'agent:subscribe', 'agent:unsubscribe',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__',
  'agent:thought', 'agent:result', 'server:shutdown', 'auth:expired', 'error', 'ping', 'AGENT:SUBSCRIBE',
  'agent:subscribe ', '', ' ', '\u0000', 'agent:*', '*',
]
const KEYS = [
  '__proto__', 'constructor', 'prototype', 'polluted', 'workflowId', 'afterSeq', 'epoch', 'token',
  'toString', 'valueOf', 'hasOwnProperty', 'then', 'length', 'ok', 'error', '$ne', '',
]
const WORKFLOW_IDS = [
  'wf-healthy', 'wf-1', 'wf-2', 'forbidden', '', ' ', '../etc', 'workflow:wf-healthy', 'user:healthy',
  'a'.repeat(129), 'a'.repeat(128), '__proto__', 'constructor', 'wf\u0000', 'wf/1', 'wf 1', 'wf-é',
]
const NUMBERS = [0, -0, -1, 1, 1.5, 2 ** 31, 2 ** 53, 1e308, -1e308, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 2]

function randomString(length: number): string {
  let text = ''
  for (let n = 0; n < length; n++) {
    const kind = int(10)
    text += kind < 6 ? String.fromCharCode(32 + int(95)) : kind < 8 ? String.fromCharCode(int(0xd7ff)) : pick(['"', '\\', '\u0000', '\n', '\ud800', '{', '}', '['])
  }
  return text
}

/** An object whose own keys may be `__proto__` and friends: set by definition, as JSON.parse does. */
function hostileObject(depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = {}
  const size = int(5)
  for (let n = 0; n < size; n++) {
    const key = random() < 0.7 ? pick(KEYS) : randomString(int(12))
    Object.defineProperty(object, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true })
  }
  return object
}

function value(depth = 0): unknown {
  const kind = depth > 3 ? int(5) : int(13)
  switch (kind) {
    case 0: return null
    case 1: return random() < 0.5
    case 2: return pick(NUMBERS)
    case 3: return randomString(int(40))
    case 4: return undefined
    case 5: return random() < 0.04 ? 'x'.repeat(10_000 + int(60_000)) : randomString(int(400))
    case 6: return Array.from({ length: int(5) }, () => value(depth + 1))
    case 7: return hostileObject(depth)
    case 8: return JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}') as unknown
    case 9: return { workflowId: pick(WORKFLOW_IDS), afterSeq: random() < 0.5 ? pick(NUMBERS) : value(depth + 1), epoch: value(depth + 1) }
    case 10: return { token: pick([randomString(int(200)), 'x'.repeat(9000), 12, null, hs256({ sub: 'other', exp: nowSeconds() + 60 }, SECRET)]) }
    case 11: return new Uint8Array(int(64)).map(() => int(256))
    default: return { workflowId: pick(WORKFLOW_IDS) }
  }
}

function packetArguments(): unknown[] {
  const args = Array.from({ length: int(4) }, () => value())
  // Oversized payloads belong to the maxHttpBufferSize test below, not to this one.
  const size = JSON.stringify(args, (_key, item: unknown) => (item instanceof Uint8Array ? [...item] : item))?.length ?? 0
  return size > MAX_PACKET_CHARS ? [value(4)] : args
}

/** Socket.IO protocol text written straight to the engine: broken frames, odd ids, hostile names. */
function rawPacket(): string {
  return pick([
    () => `2${JSON.stringify([pick(EVENT_NAMES) || 'x', value()])}`,
    () => `2${int(1000)}${JSON.stringify(['agent:subscribe', value()])}`,
    () => '2["__proto__",{"polluted":"yes"}]',
    () => '2["constructor",{"prototype":{"polluted":"yes"}}]',
    () => `2["agent:subscribe",{"__proto__":{"polluted":"yes"},"workflowId":"wf-1"}]`,
    () => `3${int(100)}${JSON.stringify([value()])}`,
    () => `2${randomString(int(60))}`,
    () => randomString(int(30)),
    () => '2[]',
    () => '2null',
    () => '2{"a":1}',
    () => '2[1,2,3]',
    () => '2["connect"]',
    () => '0{"token":"x"}',
    () => '1',
    () => '4"boom"',
    () => '51-["agent:subscribe",{"_placeholder":true,"num":7}]',
    () => '9',
    () => '',
  ])()
}

interface TypedFuzzer {
  socket: ClientSocket
  acksExpected: number
  acksReceived: number
  /** Events whose acknowledgement has not come yet, for the failure message. */
  pending: Map<number, string>
}

t.test(`fuzz: malformed packets never hurt the server or a healthy client (seed ${SEED})`, async (t) => {
  t.comment(`fuzz seed ${SEED} (set FUZZ_SEED to replay)`)
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort()
  const server = await startServer(t, {
    rateLimit: { connection: { max: 10_000, timeWindow: '1 minute' }, message: { max: 1_000_000, timeWindow: '1 minute' } },
    authorize: ({ workflowId }) => workflowId !== 'forbidden',
  })
  const healthy = await connectAs(t, server, 'healthy')
  const received = collect<{ seq: number; workflowId: string; data: { content: string } }>(healthy, AGENT_EVENTS)
  t.match(await request(healthy, 'agent:subscribe', { workflowId: 'wf-healthy' }), { ok: true })

  const typed: TypedFuzzer[] = []
  for (let n = 0; n < TYPED_SOCKETS; n++) typed.push({ socket: await connectAs(t, server, `fuzz-${n}`), acksExpected: 0, acksReceived: 0, pending: new Map() })
  let raw = await connectAs(t, server, 'fuzz-raw')
  let rawReconnects = 0

  let typedPackets = 0
  let rawPackets = 0
  let emitted = 0
  for (let round = 0; round < ROUNDS; round++) {
    for (const fuzzer of typed) {
      for (let n = 0; n < PACKETS_PER_SOCKET_PER_ROUND; n++) {
        const event = pick(EVENT_NAMES)
        const args = packetArguments()
        if (random() < 0.5) {
          const id = fuzzer.acksExpected++
          fuzzer.pending.set(id, `${JSON.stringify(event)} ${JSON.stringify(args)?.slice(0, 300)}`)
          fuzzer.socket.emit(event, ...args, () => {
            fuzzer.acksReceived++
            fuzzer.pending.delete(id)
          })
        } else {
          fuzzer.socket.emit(event, ...args)
        }
        typedPackets++
      }
    }
    if (!raw.connected) {
      raw = await connectAs(t, server, 'fuzz-raw')
      rawReconnects++
    }
    for (let n = 0; n < RAW_PACKETS_PER_ROUND && raw.connected; n++) {
      raw.io.engine.write(rawPacket())
      rawPackets++
    }
    for (let n = 0; n < EVENTS_PER_ROUND; n++) {
      emitted++
      await server.app.agentEvents.emitThought('wf-healthy', `event ${emitted}`)
    }
    // A round trip per socket: everything sent before it has been handled.
    for (const fuzzer of typed) {
      t.equal((await request(fuzzer.socket, 'agent:unsubscribe', { workflowId: 'wf-none' })).ok, true, `round ${round}: fuzz socket answers`)
    }
  }

  const total = typedPackets + rawPackets
  t.comment(`sent ${total} malformed packets: ${typedPackets} through socket.io-client from ${TYPED_SOCKETS} sockets, ${rawPackets} raw from one more (${rawReconnects} reconnects after protocol errors)`)
  t.ok(total >= 10_000, 'at least 10 000 packets')

  await until(() => received.length >= emitted, 10_000)
  t.same(received.map((event) => event.seq), Array.from({ length: emitted }, (_, n) => n + 1), 'the healthy client got every event, in order, once')
  t.ok(received.every((event, n) => event.workflowId === 'wf-healthy' && event.data.content === `event ${n + 1}`), 'and nothing else')
  t.ok(healthy.connected, 'the healthy client is still connected')

  for (const [n, fuzzer] of typed.entries()) {
    await until(() => fuzzer.acksReceived === fuzzer.acksExpected, 10_000).catch(() => {})
    t.same([...fuzzer.pending.values()], [], `fuzz socket ${n}: no request left unanswered`)
    t.equal(fuzzer.acksReceived, fuzzer.acksExpected, `fuzz socket ${n}: every request with an ack got an answer`)
    t.ok(fuzzer.socket.connected, `fuzz socket ${n}: bad payloads under the size limit never cost the connection`)
  }

  t.equal(({} as Record<string, unknown>).polluted, undefined, '({}).polluted is undefined')
  t.same(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys, 'Object.prototype is untouched')

  const newcomer = await connectAs(t, server, 'newcomer')
  t.match(await request(newcomer, 'agent:subscribe', { workflowId: 'wf-healthy', afterSeq: 0 }), { ok: true, lastSeq: emitted }, 'the server still answers new clients')
})

t.test('a payload over maxHttpBufferSize costs only its sender the connection', async (t) => {
  const server = await startServer(t)
  const healthy = await connectAs(t, server, 'healthy')
  const received = collect(healthy, AGENT_EVENTS)
  t.match(await request(healthy, 'agent:subscribe', { workflowId: 'wf-1' }), { ok: true })
  const sender = client(t, server, { auth: { token: server.token('big') } })
  sender.connect()
  await waitFor(sender, 'connect')
  const gone = waitFor(sender, 'disconnect')
  sender.emit('agent:subscribe', { workflowId: 'wf-1', epoch: 'x'.repeat(150_000) })
  t.equal(await gone, 'transport close', 'the sender lost its connection')
  await server.app.agentEvents.emitThought('wf-1', 'after')
  await until(() => received.length === 1)
  t.ok(healthy.connected, 'the other client did not')
  sender.connect()
  await waitFor(sender, 'connect')
  t.match(await request(sender, 'agent:subscribe', { workflowId: 'wf-1', afterSeq: 0 }), { ok: true, replayed: 1 }, 'and the sender reconnects and replays')
})
