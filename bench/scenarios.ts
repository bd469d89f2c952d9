// The scenarios of issue 5. Each one alternates raw Socket.IO and the plugin (or, for replay,
// live and replayed delivery through the plugin) and returns one flat record of metrics per run.
import { defineScenario, type Scenario, type Variant } from './scenario.ts'
import { workflowOf } from './wire.ts'

const RAW_VS_PLUGIN: readonly [Variant, Variant] = [
  { label: 'raw', server: 'raw' },
  { label: 'plugin', server: 'plugin' },
]
/** Handshakes in flight while clients connect. */
const CONNECT_PARALLEL = 50

interface Emitted {
  startedAt: number
  endedAt: number
}
interface Settled {
  expected: number
  received: number
  lost: number
  outOfOrder: number
  disconnected: number
  lastAt: number
  latencyP50Ms?: number
  latencyP99Ms?: number
}
interface Measured {
  cpuUs: number
  elu: number
  wallMs: number
  gcMs: number
}
interface Memory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
  sockets: number
}

const fanout = defineScenario({
  name: 'fanout',
  summary: 'clients on one workflow, thoughts sent in batches that respect backpressure',
  variants: RAW_VS_PLUGIN,
  sizes: {
    // The issue asks for 20,000 thoughts (4 million deliveries); on a shared two-core machine
    // that alone takes minutes per run, so the suite sends 2,000 (400,000 deliveries per run).
    full: { clients: 200, events: 2_000, warmup: 200, batch: 100 },
    quick: { clients: 50, events: 2_000, warmup: 200, batch: 100 },
  },
  metrics: [
    { key: 'serverCpuUsPerDelivery', label: 'server CPU µs / delivery', kind: 'ratio', target: { max: 1.1 } },
    { key: 'deliveriesPerSec', label: 'deliveries / s', kind: 'ratio' },
    { key: 'serverElu', label: 'server event-loop utilisation', kind: 'ratio' },
    { key: 'lost', label: 'lost events', kind: 'total' },
    { key: 'outOfOrder', label: 'out-of-order events', kind: 'total' },
  ],
  async run({ size, url, server, client }) {
    const workflows = [workflowOf('shared', 0)]
    await client('open', { url, count: size.clients, parallel: CONNECT_PARALLEL, workflows: 'shared' })
    await client('arm', { perClient: size.warmup })
    await server('emit', { workflows, count: size.warmup, batch: size.batch })
    await client('settle', {})

    await client('arm', { perClient: size.events, firstSeq: size.warmup + 1 })
    await server('measureStart')
    const emitted = await server<Emitted>('emit', { workflows, count: size.events, batch: size.batch })
    const settled = await client<Settled>('settle', {})
    const measured = await server<Measured>('measureStop')
    return {
      deliveriesPerSec: settled.received / ((settled.lastAt - emitted.startedAt) / 1000),
      serverCpuUsPerDelivery: measured.cpuUs / settled.received,
      serverElu: measured.elu,
      lost: settled.lost,
      outOfOrder: settled.outOfOrder,
    }
  },
})

const manyWorkflows = defineScenario({
  name: 'many-workflows',
  summary: 'one workflow per client, thoughts round-robin: the sharpest test of per-emit cost',
  variants: RAW_VS_PLUGIN,
  sizes: {
    full: { clients: 1000, events: 100_000, batch: 1000 },
    quick: { clients: 200, events: 10_000, batch: 200 },
  },
  metrics: [
    { key: 'deliveriesPerSec', label: 'deliveries / s', kind: 'ratio', target: { min: 0.9 } },
    { key: 'serverCpuUsPerDelivery', label: 'server CPU µs / delivery', kind: 'ratio' },
    { key: 'serverElu', label: 'server event-loop utilisation', kind: 'ratio' },
    { key: 'serverGcMsPerThousand', label: 'server GC ms / 1,000 deliveries', kind: 'ratio' },
    { key: 'lost', label: 'lost events', kind: 'total' },
    { key: 'outOfOrder', label: 'out-of-order events', kind: 'total' },
  ],
  async run({ size, url, server, client }) {
    const workflows = Array.from({ length: size.clients }, (_, index) => workflowOf('own', index))
    await client('open', { url, count: size.clients, parallel: CONNECT_PARALLEL, workflows: 'own' })
    // Warm-up: one event per workflow.
    await client('arm', { perClient: 1 })
    await server('emit', { workflows, count: size.clients, batch: size.batch })
    await client('settle', {})

    const perClient = Math.floor(size.events / size.clients)
    await client('arm', { perClient, firstSeq: 2 })
    await server('measureStart')
    const emitted = await server<Emitted>('emit', { workflows, count: perClient * size.clients, batch: size.batch })
    const settled = await client<Settled>('settle', {})
    const measured = await server<Measured>('measureStop')
    return {
      deliveriesPerSec: settled.received / ((settled.lastAt - emitted.startedAt) / 1000),
      serverCpuUsPerDelivery: measured.cpuUs / settled.received,
      serverElu: measured.elu,
      serverGcMsPerThousand: (measured.gcMs / settled.received) * 1000,
      lost: settled.lost,
      outOfOrder: settled.outOfOrder,
    }
  },
})

const bigEvents = defineScenario({
  name: 'big-events',
  summary: 'clients on one workflow, thoughts of 64 KiB in bursts of 1 MiB per client: big tool results',
  variants: RAW_VS_PLUGIN,
  sizes: {
    // 16 events of 64 KiB are 1 MiB per client, the plugin's default maxBufferedBytes: each burst
    // goes over it for a moment, as a tool returning a large result in pieces does.
    full: { clients: 200, events: 200, warmup: 16, batch: 16, contentBytes: 65_536 },
    quick: { clients: 50, events: 160, warmup: 16, batch: 16, contentBytes: 65_536 },
  },
  metrics: [
    { key: 'deliveriesPerSec', label: 'deliveries / s', kind: 'ratio' },
    { key: 'serverCpuUsPerDelivery', label: 'server CPU µs / delivery', kind: 'ratio' },
    { key: 'serverElu', label: 'server event-loop utilisation', kind: 'ratio' },
    { key: 'lost', label: 'lost events', kind: 'total' },
    { key: 'disconnected', label: 'clients disconnected', kind: 'total' },
  ],
  async run({ size, url, server, client }) {
    const workflows = [workflowOf('shared', 0)]
    const emit = { workflows, batch: size.batch, contentBytes: size.contentBytes }
    await client('open', { url, count: size.clients, parallel: CONNECT_PARALLEL, workflows: 'shared' })
    await client('arm', { perClient: size.warmup })
    await server('emit', { ...emit, count: size.warmup })
    await client('settle', {})

    await client('arm', { perClient: size.events, firstSeq: size.warmup + 1 })
    await server('measureStart')
    const emitted = await server<Emitted>('emit', { ...emit, count: size.events })
    const settled = await client<Settled>('settle', {})
    const measured = await server<Measured>('measureStop')
    return {
      deliveriesPerSec: settled.received / ((settled.lastAt - emitted.startedAt) / 1000),
      serverCpuUsPerDelivery: measured.cpuUs / settled.received,
      serverElu: measured.elu,
      lost: settled.lost,
      disconnected: settled.disconnected,
    }
  },
})

const pacedLatency = defineScenario({
  name: 'paced-latency',
  summary: 'a steady 100 thoughts/s to clients on one workflow: emit→receive latency',
  variants: RAW_VS_PLUGIN,
  sizes: {
    full: { clients: 200, events: 600, perSecond: 100, warmup: 50 },
    quick: { clients: 50, events: 200, perSecond: 100, warmup: 20 },
  },
  metrics: [
    { key: 'latencyP99Ms', label: 'p99 latency ms', kind: 'ratio', target: { max: 1.2 } },
    { key: 'latencyP50Ms', label: 'p50 latency ms', kind: 'ratio' },
    { key: 'serverCpuUsPerDelivery', label: 'server CPU µs / delivery', kind: 'ratio' },
    { key: 'lost', label: 'lost events', kind: 'total' },
  ],
  async run({ size, url, server, client }) {
    const workflowId = workflowOf('shared', 0)
    await client('open', { url, count: size.clients, parallel: CONNECT_PARALLEL, workflows: 'shared' })
    await client('arm', { perClient: size.warmup })
    await server('paced', { workflowId, count: size.warmup, perSecond: size.perSecond })
    await client('settle', {})

    await client('arm', { perClient: size.events, firstSeq: size.warmup + 1, latencies: size.events * size.clients })
    await server('measureStart')
    await server('paced', { workflowId, count: size.events, perSecond: size.perSecond })
    const settled = await client<Settled>('settle', {})
    const measured = await server<Measured>('measureStop')
    return {
      latencyP50Ms: settled.latencyP50Ms ?? Number.NaN,
      latencyP99Ms: settled.latencyP99Ms ?? Number.NaN,
      serverCpuUsPerDelivery: measured.cpuUs / settled.received,
      lost: settled.lost,
    }
  },
})

const handshake = defineScenario({
  name: 'handshake',
  summary: 'connects with a fresh JWT each, 50 in parallel (raw: io.use + fastify.jwt.verify)',
  variants: RAW_VS_PLUGIN,
  sizes: {
    full: { connects: 2000, parallel: 50, warmup: 200 },
    quick: { connects: 300, parallel: 50, warmup: 50 },
  },
  metrics: [
    { key: 'serverCpuUsPerConnect', label: 'server CPU µs / connect', kind: 'ratio', target: { max: 1.15 } },
    { key: 'connectsPerSec', label: 'connects / s', kind: 'ratio' },
    { key: 'failed', label: 'failed connects', kind: 'total' },
  ],
  async run({ size, url, server, client }) {
    await client('handshakes', { url, count: size.warmup, parallel: size.parallel })
    await server('measureStart')
    const done = await client<{ durationMs: number; connected: number; failed: number }>('handshakes', {
      url,
      count: size.connects,
      parallel: size.parallel,
    })
    const measured = await server<Measured>('measureStop')
    return {
      connectsPerSec: done.connected / (done.durationMs / 1000),
      serverCpuUsPerConnect: measured.cpuUs / done.connected,
      failed: done.failed,
    }
  },
})

const memory = defineScenario({
  name: 'memory',
  summary: 'idle authenticated clients, one workflow each: server memory per connection after a GC',
  variants: RAW_VS_PLUGIN,
  sizes: {
    full: { clients: 5000 },
    quick: { clients: 500 },
  },
  metrics: [
    { key: 'heapKbPerConnection', label: 'heap KiB / connection', kind: 'ratio', target: { max: 1.15 } },
    { key: 'rssKbPerConnection', label: 'RSS KiB / connection', kind: 'ratio', target: { max: 1.15 } },
    { key: 'missing', label: 'connections missing', kind: 'total' },
  ],
  async run({ size, url, server, client, heapSnapshot }) {
    const before = await server<Memory>('memory')
    // --heap-snapshot (read with bench/heap-diff.ts): writing a snapshot grows the RSS, so with it
    // only the heap figures mean anything.
    await heapSnapshot('before')
    await client('open', { url, count: size.clients, parallel: CONNECT_PARALLEL, workflows: 'own' })
    const after = await server<Memory>('memory')
    await heapSnapshot('after')
    const perConnectionKb = (bytes: number): number => bytes / size.clients / 1024
    return {
      heapKbPerConnection: perConnectionKb(after.heapUsed - before.heapUsed),
      rssKbPerConnection: perConnectionKb(after.rss - before.rss),
      missing: size.clients - after.sockets,
    }
  },
})

const replay = defineScenario({
  name: 'replay',
  summary: 'one subscriber: 1,000 events replayed on subscribe (afterSeq 0) vs 1,000 events live',
  variants: [
    { label: 'live', server: 'plugin' },
    { label: 'replay', server: 'plugin' },
  ],
  sizes: {
    // Cheap rounds (about 30 ms each): many of them give a steady median.
    full: { events: 1000, rounds: 31 },
    quick: { events: 1000, rounds: 4 },
  },
  metrics: [
    { key: 'msPerBatch', label: 'ms to deliver the 1,000 events', kind: 'ratio', target: { max: 1 } },
    { key: 'lost', label: 'lost events', kind: 'total' },
    { key: 'outOfOrder', label: 'out-of-order events', kind: 'total' },
  ],
  async run({ size, variant, url, server, client }) {
    await client('open', { url, count: 1, parallel: 1, workflows: 'none' })
    const durations: number[] = []
    let lost = 0
    let outOfOrder = 0
    for (let round = 0; round < size.rounds; round++) {
      const workflowId = `wf-${variant.label}-${round}`
      let durationMs: number
      if (variant.label === 'live') {
        // From the first emit to the last event received by the subscriber.
        await client('follow', { workflowId })
        await client('arm', { perClient: size.events })
        const emitted = await server<Emitted>('emit', { workflows: [workflowId], count: size.events, batch: size.events })
        const settled = await client<Settled>('settle', {})
        durationMs = settled.lastAt - emitted.startedAt
        lost += settled.lost
        outOfOrder += settled.outOfOrder
      } else {
        // From the subscribe request to the last replayed event received.
        await server('emit', { workflows: [workflowId], count: size.events, batch: size.events })
        const replayed = await client<{ durationMs: number; received: number; outOfOrder: number }>('replay', {
          workflowId,
          expected: size.events,
        })
        durationMs = replayed.durationMs
        lost += size.events - replayed.received
        outOfOrder += replayed.outOfOrder
      }
      // The first round warms up both paths.
      if (round > 0) durations.push(durationMs)
    }
    durations.sort((a, b) => a - b)
    return { msPerBatch: durations[Math.floor(durations.length / 2)] ?? Number.NaN, lost, outOfOrder }
  },
})

/** In the order they run. */
export const SCENARIOS: readonly Scenario<unknown>[] = [fanout, manyWorkflows, bigEvents, pacedLatency, handshake, memory, replay]
