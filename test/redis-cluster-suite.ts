// The Redis Cluster suite, run once per client flavour by the redis-cluster*.test.ts entry files:
// a real 3-master cluster, three Fastify nodes, clients that drop and come back on other nodes.
import type { Test } from 'tap'
import type { AgentEvent } from '../src/index.ts'
import { client, connectAs, until, waitFor } from './helpers.ts'
import { EpochTracker } from './epoch-tracker.ts'
import { seededRandom } from './random.ts'
import {
  type ClusterNode,
  clusterLinked,
  flavourName,
  type RedisClusterServer,
  type RedisFlavour,
  startClusterNode,
  startRedisCluster,
} from './redis-cluster.ts'

const CLIENTS = 20
const NODES = 3

interface Final {
  epoch: string
  lastSeq: number
}

/** Each workflow's current epoch and last seq, as the store holds them. */
async function finalState(node: ClusterNode, workflowIds: string[]): Promise<Map<string, Final>> {
  const entries = await Promise.all(workflowIds.map(async (workflowId) => {
    const { epoch, lastSeq } = await node.store.read(workflowId, { afterSeq: Number.MAX_SAFE_INTEGER, limit: 0 })
    return [workflowId, { epoch, lastSeq }] as const
  }))
  return new Map(entries)
}

/** The index of the master that holds `key`'s slot. */
async function masterOf(cluster: RedisClusterServer, key: string): Promise<number> {
  const slot = Number((await cluster.cli(0, 'CLUSTER', 'KEYSLOT', key)).trim())
  for (const index of cluster.ports.keys()) {
    const myself = (await cluster.cli(index, 'CLUSTER', 'NODES')).split('\n').find((line) => line.includes('myself')) ?? ''
    for (const range of myself.split(' ').slice(8)) {
      const [from, to = from] = range.split('-').map(Number)
      if (from !== undefined && slot >= from && slot <= (to as number)) return index
    }
  }
  throw new Error(`no master holds slot ${slot}`)
}

/** Three nodes on a fresh cluster, and `CLIENTS` trackers spread over them, each moving to another node on every reconnect. */
async function setUp(t: Test, flavour: RedisFlavour, workflowIds: string[], seed: number) {
  const random = seededRandom(seed)
  const cluster = await startRedisCluster(t)
  const nodes: ClusterNode[] = []
  // maxEvents above the events of a run: a client away for long still replays, untruncated.
  for (let i = 0; i < NODES; i++) nodes.push(await startClusterNode(t, cluster, flavour, { maxEvents: 5000 }))
  await clusterLinked(cluster, NODES)
  const trackers = Array.from({ length: CLIENTS }, (_, i) => {
    let where = i % NODES
    return new EpochTracker(`client-${i}`, workflowIds, () => {
      const node = nodes[where] as ClusterNode
      // The next connection goes to one of the other nodes.
      where = (where + 1 + Math.floor(random() * (NODES - 1))) % NODES
      return client(t, node, { auth: { token: node.token(`user-${i}`) } })
    })
  })
  t.teardown(() => {
    for (const tracker of trackers) tracker.close()
  })
  await Promise.all(trackers.map((tracker) => tracker.reconnect()))
  return { cluster, nodes, trackers, random }
}

export function clusterSuite(t: Test, flavour: RedisFlavour): void {
  const name = flavourName(flavour)
  const seed = Number(process.env.SEED ?? 20_261_202)

  t.test(`${name}: 3-master cluster, 3 nodes, 20 clients reconnecting to other nodes: each ends with exactly 1..2000 per workflow (seed ${seed})`, async (t) => {
    const workflowIds = ['wf-a', 'wf-b']
    const perWorkflow = 2000
    const { nodes, trackers, random } = await setUp(t, flavour, workflowIds, seed)

    const plan = workflowIds.flatMap((workflowId) => Array.from({ length: perWorkflow }, () => workflowId))
    const inFlight: Promise<AgentEvent>[] = []
    const reconnecting: Promise<void>[] = []
    let unrecorded = 0
    for (const [index, workflowId] of plan.entries()) {
      const node = nodes[Math.floor(random() * NODES)] as ClusterNode
      inFlight.push(node.app.agentEvents.emitThought(workflowId, `step ${index}`))
      if (inFlight.length >= 8) {
        for (const event of await Promise.all(inFlight.splice(0))) if (!('seq' in event)) unrecorded++
      }
      if (random() < 0.02) reconnecting.push((trackers[Math.floor(random() * CLIENTS)] as EpochTracker).reconnect())
    }
    for (const event of await Promise.all(inFlight)) if (!('seq' in event)) unrecorded++
    await Promise.all(reconnecting)
    t.equal(unrecorded, 0, 'every event was recorded')

    const final = await finalState(nodes[0] as ClusterNode, workflowIds)
    t.same([...final.values()].map((state) => state.lastSeq), workflowIds.map(() => perWorkflow), 'the store numbered every event')
    await until(() => trackers.every((tracker) => tracker.reached(final)), 30_000).catch(() => {})
    const reconnections = trackers.reduce((sum, tracker) => sum + tracker.reconnections, 0) - CLIENTS
    t.comment(`${reconnections} reconnections to other nodes during ${plan.length} events`)
    t.ok(reconnections >= 40, 'clients did drop and come back on other nodes while events flowed')
    t.same(trackers.flatMap((tracker) => tracker.check(final)), [], `every client got 1..${perWorkflow} of each workflow exactly once, in order`)
    t.equal(trackers.reduce((sum, tracker) => sum + tracker.resets, 0), 0, 'no epoch changed')
    t.equal(trackers.reduce((sum, tracker) => sum + tracker.refusals, 0), 0, 'no subscription was refused')
    for (const node of nodes) t.same(node.logs.filter((line) => (line.level as number) >= 50), [], 'no node logged an error')

    // Direct events go through the Socket.IO streams adapter, over the cluster, to another node.
    const [from, to] = nodes as [ClusterNode, ClusterNode]
    const direct = await connectAs(t, to, 'direct-user')
    const got = waitFor<{ data: unknown }>(direct, 'agent:thought', 10_000)
    // The adapter reads its stream from where it joined: repeat until the first one is read.
    const repeat = setInterval(() => void from.app.agentEvents.emitThought('wf-direct', 'only for you', { userId: 'direct-user' }), 200)
    t.teardown(() => clearInterval(repeat))
    void from.app.agentEvents.emitThought('wf-direct', 'only for you', { userId: 'direct-user' })
    t.same((await got).data, { content: 'only for you' }, 'a direct event from another node arrived through the streams adapter')
    clearInterval(repeat)
  })

  t.test(`${name}: a master killed and restarted mid-run: emitters settle, every client ends with 1..N or a flagged reset (seed ${seed})`, async (t) => {
    const workflowIds = ['wf-a', 'wf-b', 'wf-c', 'wf-d']
    const perWorkflow = 300
    const { cluster, nodes, trackers, random } = await setUp(t, flavour, workflowIds, seed)
    const victim = await masterOf(cluster, 'wf-a')
    const owners = await Promise.all(workflowIds.map((workflowId) => masterOf(cluster, workflowId)))
    t.comment(`killing master #${victim}, which holds ${workflowIds.filter((_, i) => owners[i] === victim).join(', ')}`)
    const before = await finalState(nodes[0] as ClusterNode, workflowIds)

    const plan = workflowIds.flatMap((workflowId) => Array.from({ length: perWorkflow }, () => workflowId))
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[plan[i], plan[j]] = [plan[j] as string, plan[i] as string]
    }
    const settled: AgentEvent[] = []
    const reconnecting: Promise<void>[] = []
    const killAt = Math.floor(plan.length / 3)
    const restartAt = Math.floor(plan.length / 2)
    let inFlight: Promise<AgentEvent>[] = []
    for (const [index, workflowId] of plan.entries()) {
      if (index === killAt || index === restartAt) {
        settled.push(...(await Promise.all(inFlight)))
        inFlight = []
        if (index === killAt) await cluster.kill(victim)
        else await cluster.restart(victim)
      }
      const node = nodes[Math.floor(random() * NODES)] as ClusterNode
      inFlight.push(node.app.agentEvents.emitThought(workflowId, `step ${index}`))
      if (inFlight.length >= 8) {
        settled.push(...(await Promise.all(inFlight)))
        inFlight = []
      }
      if (random() < 0.02) reconnecting.push((trackers[Math.floor(random() * CLIENTS)] as EpochTracker).reconnect())
    }
    settled.push(...(await Promise.all(inFlight)))
    await Promise.all(reconnecting)
    t.equal(settled.length, plan.length, 'every emitter settled')
    const unrecorded = settled.filter((event) => !('seq' in event))
    t.comment(`${unrecorded.length} events unrecorded while the master was away`)

    const final = await finalState(nodes[0] as ClusterNode, workflowIds)
    await until(() => trackers.every((tracker) => tracker.reached(final)), 30_000).catch(() => {})
    t.same(trackers.flatMap((tracker) => tracker.check(final)), [], 'every client saw 1..N of each epoch, with no silent hole, and ends where the store ends')
    for (const [i, workflowId] of workflowIds.entries()) {
      const changed = (final.get(workflowId) as Final).epoch !== (before.get(workflowId) as Final).epoch
      if (owners[i] === victim) t.ok(changed, `${workflowId}, on the restarted (empty) master, is in a new epoch`)
      else t.notOk(changed, `${workflowId}, on a master that stayed, keeps its epoch`)
    }
    const flagged = trackers.reduce((sum, tracker) => sum + tracker.resets, 0)
    t.comment(`${flagged} flagged resets, ${trackers.reduce((sum, tracker) => sum + tracker.refusals, 0)} subscriptions refused (and retried) while the cluster was down`)
    t.ok(flagged >= CLIENTS, 'every client that followed a lost workflow was told of its reset')
  })
}
