// The chaos test: a workflow of 2,000 events is emitted on one Redis node while the client, on
// another node behind a proxy, is cut by every kind of disconnect in turn. It must end with
// onEvent having seen exactly 1..2000 in order; Redis keeps the epoch and the buffer across node
// restarts, so not even a reset is allowed. Tokens live 5 seconds, so the client also refreshes
// every second all along.
import { randomBytes } from 'node:crypto'
import t from 'tap'
import type { Run } from '../src/client/run.ts'
import { range, seqs, until } from './helpers.ts'
import { clientOf, follow, statusReached, type Followed } from './client-helpers.ts'
import { startRedisNode, type RedisNode } from './redis-nodes.ts'
import { redisAvailable, startRedis } from './redis-server.ts'
import { stallingProxy } from './stalling-proxy.ts'

const TOTAL = 2000
const ROUNDS = 3
const KINDS = ['network drop', 'io server disconnect', 'slow-consumer drop', 'server:shutdown and restart', 'token expiry'] as const
type Kind = (typeof KINDS)[number]
const EVENTS_PER_CUT = Math.floor(TOTAL / (ROUNDS * KINDS.length))
const WORKFLOW = 'wf-chaos'
/** Large events in a second followed workflow fill the stalled connection until the server drops it. */
const BULK = 'wf-bulk'

t.test('2,000 events through every kind of disconnect, in turn: exactly 1..2000 in order', { skip: !redisAvailable(t) }, async (t) => {
  t.setTimeout(240_000)
  const redis = await startRedis(t)
  const store = { maxEvents: 5000 }
  // The client's node: small send limits so that a stalled client is dropped within a second.
  const clientNodeOptions = { plugin: { maxBufferedBytes: 256 * 1024, slowConsumerTimeout: '1 second' } }
  let clientNode: RedisNode = await startRedisNode(t, redis, store, clientNodeOptions)
  const emitter = await startRedisNode(t, redis, store)
  const proxy = await stallingProxy(t, clientNode.url)

  let hangNextToken = false
  let hungTokens = 0
  let tokenCalls = 0
  const token = (): string | Promise<string> => {
    tokenCalls++
    if (hangNextToken) {
      // This refresh never gets its token: the one in use runs out and the server sends auth:expired.
      hangNextToken = false
      hungTokens++
      return new Promise<string>(() => {})
    }
    return emitter.app.jwt.sign({ sub: 'chaos' }, { expiresIn: '5s' })
  }
  const client = clientOf(t, { ...emitter, url: proxy.url }, 'chaos', {
    token,
    socket: { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 250 },
  })
  const refusals: string[] = []
  client.on('error', (error) => refusals.push(error.code))
  let disconnects = 0
  client.on('status', (status) => { if (status === 'offline') disconnects++ })

  const chaos = follow(client, WORKFLOW)
  const bulk = follow(client, BULK)
  await until(() => chaos.run.status === 'live' && bulk.run.status === 'live', 10_000)

  // Subscribes that reach the client's node, counted on each node it has had.
  let subscribes = 0
  const countOn = (node: RedisNode): void => {
    node.app.agentEvents.io.of('/').on('connection', (socket) => {
      socket.conn.on('packet', (packet: { type: string; data?: unknown }) => {
        if (packet.type === 'message' && String(packet.data).includes(`"agent:subscribe",{"workflowId":"${WORKFLOW}"`)) subscribes++
      })
    })
  }
  countOn(clientNode)

  let emitted = 0
  let bulkEmitted = 0
  /** Emit the next `count` events of the workflow, one every millisecond or so, as an agent would (the last cut gets what is left). */
  const emitSome = async (count: number): Promise<void> => {
    for (let n = 0; n < count && emitted < TOTAL; n++) {
      emitted++
      await emitter.app.agentEvents.emitThought(WORKFLOW, `step ${emitted}`)
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  }
  const duplicatesOf = (followed: Followed): number => (followed.run as Run).duplicates

  const cut: Record<Kind, () => Promise<void>> = {
    'network drop': async () => proxy.cut(),
    'io server disconnect': async () => {
      for (const socket of clientNode.app.agentEvents.io.of('/').sockets.values()) socket.disconnect(true)
    },
    'slow-consumer drop': async () => {
      const dropsBefore = clientNode.logs.filter((line) => line.msg === 'slow consumer disconnected').length
      proxy.stall()
      while (clientNode.logs.filter((line) => line.msg === 'slow consumer disconnected').length === dropsBefore) {
        bulkEmitted++
        await emitter.app.agentEvents.emitThought(BULK, randomBytes(4 * 1024).toString('hex'))
        await new Promise((resolve) => setImmediate(resolve))
      }
      proxy.resume()
    },
    'server:shutdown and restart': async () => {
      await clientNode.app.close()
      clientNode = await startRedisNode(t, redis, store, clientNodeOptions)
      countOn(clientNode)
      proxy.retarget(clientNode.url)
    },
    'token expiry': async () => {
      hangNextToken = true
      await statusReached(client, 'offline')
    },
  }

  const counts = new Map<Kind, { cuts: number; resubscribes: number; duplicates: number; refusals: number }>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of KINDS) {
      const before = { subscribes, duplicates: duplicatesOf(chaos), refusals: refusals.length, disconnects }
      const share = round === ROUNDS - 1 && kind === KINDS.at(-1) ? TOTAL : EVENTS_PER_CUT
      // A third of this cut's events before it and while it happens, the rest once the client is off.
      const emittingBefore = emitSome(Math.floor(share / 3))
      await cut[kind]()
      await until(() => disconnects > before.disconnects, 15_000)
      await emittingBefore
      await emitSome(share - Math.floor(share / 3))
      await until(() => chaos.run.status === 'live' && bulk.run.status === 'live' && client.status === 'online', 30_000)
      const entry = counts.get(kind) ?? { cuts: 0, resubscribes: 0, duplicates: 0, refusals: 0 }
      entry.cuts++
      entry.resubscribes += subscribes - before.subscribes
      entry.duplicates += duplicatesOf(chaos) - before.duplicates
      entry.refusals += refusals.length - before.refusals
      counts.set(kind, entry)
    }
  }
  await until(() => chaos.run.lastSeq === TOTAL && bulk.run.lastSeq === bulkEmitted, 30_000)

  for (const [kind, entry] of counts) {
    t.comment(`${kind}: ${entry.cuts} cuts, ${entry.resubscribes} resubscribes, ${entry.duplicates} duplicates dropped, ${entry.refusals} refusals waited out`)
  }
  t.comment(`${disconnects} disconnects in all; ${bulkEmitted} bulk events to fill stalled connections; ${tokenCalls} token() calls (handshakes and refreshes), ${hungTokens} refreshes left without a token; refusals: ${refusals.join(', ') || 'none'}`)
  t.equal(emitted, TOTAL)
  for (const kind of KINDS) t.equal(counts.get(kind)?.cuts, ROUNDS, `${kind}: cut ${ROUNDS} times`)
  // Redis keeps the epoch and the buffer across node restarts, so no reset is allowed here.
  t.same(chaos.resets, [], 'no reset')
  t.same(seqs(chaos.events), range(1, TOTAL), 'onEvent saw exactly 1..2000, in order')
  t.same(seqs(bulk.events), range(1, bulkEmitted), 'the bulk workflow is whole too')
})
