// npm run bench [-- --scenario NAME ...] [--quick] [--pairs N] [--profile]
// [--heap-snapshot]
// (--profile writes a CPU profile of every server process to bench/profiles/: of the measured
// phase where the scenario has one, of the whole process otherwise; --heap-snapshot writes the
// heap snapshots that a scenario asks for there too: memory, before and after the clients connect)
//
// Each scenario runs its two variants alternately (A B A B…, at least three pairs); every run has
// a fresh server process and a fresh client process. One JSON line per run goes to stdout, then a
// table of medians and candidate/baseline ratios. Ratios, not absolute figures, are what count:
// the machine is shared and drifts between runs.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { caller } from './ipc.ts'
import type { Metric, Scenario, Variant } from './scenario.ts'
import { SCENARIOS } from './scenarios.ts'
import { median, round } from './stats.ts'

const MIN_PAIRS = 3
/** A child that has not exited this long after being closed is killed and reported. */
const EXIT_GRACE_MS = 10_000

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    quick: { type: 'boolean', default: false },
    pairs: { type: 'string', default: String(MIN_PAIRS) },
    profile: { type: 'boolean', default: false },
    'heap-snapshot': { type: 'boolean', default: false },
  },
})

const pairs = Number(values.pairs)
if (!Number.isSafeInteger(pairs) || pairs < 1) throw new Error('--pairs must be a positive integer')
const wanted = values.scenario?.flatMap((name) => name.split(',')) ?? SCENARIOS.map((scenario) => scenario.name)
const unknown = wanted.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name))
if (unknown.length > 0) {
  throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((scenario) => scenario.name).join(', ')}`)
}
const selected = SCENARIOS.filter((scenario) => wanted.includes(scenario.name))

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url))
const profileDir = here('./profiles')

/** Names this suite's profiles apart from earlier ones in the same directory. */
const suiteStamp = new Date().toISOString().slice(0, 19).replaceAll(':', '')

/** `profileName`: the server samples itself (see profiler.ts) and writes `<profileName>.cpuprofile`. */
function start(file: string, args: string[], profileName?: string): ChildProcess {
  if (profileName !== undefined) mkdirSync(profileDir, { recursive: true })
  const env = profileName === undefined ? process.env : { ...process.env, BENCH_PROFILE_DIR: profileDir, BENCH_PROFILE_NAME: profileName }
  return fork(here(file), args, {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
}

/** Wait for a child to end by itself; kill it (this one child, by its handle) only if it does not. */
async function ended(child: ChildProcess, name: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const timer = setTimeout(() => {
    process.stderr.write(`bench: ${name} did not exit by itself within ${EXIT_GRACE_MS} ms: killing it\n`)
    child.kill('SIGKILL')
  }, EXIT_GRACE_MS)
  await once(child, 'exit')
  clearTimeout(timer)
}

async function runOnce(scenario: Scenario<unknown>, variant: Variant, pair: number): Promise<Record<string, number>> {
  const runName = `${suiteStamp}-${scenario.name}-${variant.label}-${pair}`
  const profileName = values.profile ? runName : undefined
  const serverProcess = start('./server.ts', [variant.server], profileName)
  if (profileName !== undefined) console.error(`# ${scenario.name} ${variant.label} pair ${pair}: profile in bench/profiles/${profileName}.cpuprofile`)
  const clientProcess = start('./client.ts', [])
  const server = caller(serverProcess)
  const client = caller(clientProcess)
  try {
    const port = await server<number>('port')
    const size = values.quick ? scenario.sizes.quick : scenario.sizes.full
    const startedAt = performance.now()
    const heapSnapshot = async (label: string): Promise<void> => {
      if (!values['heap-snapshot']) return
      mkdirSync(profileDir, { recursive: true })
      const path = await server<string>('heapSnapshot', { path: `${profileDir}/${runName}-${label}.heapsnapshot` })
      console.error(`# heap snapshot: ${path}`)
    }
    const metrics = await scenario.run({ size, variant, url: `http://127.0.0.1:${port}`, server, client, heapSnapshot })
    const seconds = (performance.now() - startedAt) / 1000
    const rounded = Object.fromEntries(Object.entries(metrics).map(([key, value]) => [key, round(value)]))
    console.log(JSON.stringify({ scenario: scenario.name, variant: variant.label, pair, ...rounded, seconds: round(seconds) }))
    return metrics
  } finally {
    await client('close').catch(() => {})
    await server('close').catch(() => {})
    await Promise.all([ended(clientProcess, 'client'), ended(serverProcess, 'server')])
  }
}

interface Row {
  scenario: string
  metric: Metric
  baseline: number
  candidate: number
}

function verdict(row: Row): string {
  if (row.metric.kind === 'total') return row.candidate === 0 && row.baseline === 0 ? 'ok' : 'FAIL'
  const target = row.metric.target
  if (target === undefined) return ''
  const ratio = row.candidate / row.baseline
  return ('max' in target ? ratio <= target.max : ratio >= target.min) ? 'ok' : 'MISSED'
}

function targetText(metric: Metric): string {
  if (metric.kind === 'total') return '0'
  if (metric.target === undefined) return ''
  return 'max' in metric.target ? `≤ ${metric.target.max.toFixed(2)}` : `≥ ${metric.target.min.toFixed(2)}`
}

function table(rows: Row[], labels: Map<string, readonly [Variant, Variant]>): string {
  const lines = [
    '| scenario | metric | baseline | median | candidate | median | ratio | target | |',
    '|---|---|---|---:|---|---:|---:|---|---|',
  ]
  for (const row of rows) {
    const [a, b] = labels.get(row.scenario) as readonly [Variant, Variant]
    const total = row.metric.kind === 'total'
    const ratio = total ? '' : (row.candidate / row.baseline).toFixed(2)
    lines.push(
      `| ${row.scenario} | ${row.metric.label}${total ? ' (sum)' : ''} | ${a.label} | ${round(row.baseline)} | ${b.label} | ${round(row.candidate)} | ${ratio} | ${targetText(row.metric)} | ${verdict(row)} |`,
    )
  }
  return lines.join('\n')
}

function machine(): string {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'
  return `${availableParallelism()} cores (${cpu}), Node ${process.version}`
}

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
console.error(`# ${command}: ${selected.map((scenario) => scenario.name).join(', ')}, ${pairs} pairs, ${machine()}`)
const suiteStartedAt = performance.now()
const rows: Row[] = []
const labels = new Map<string, readonly [Variant, Variant]>()
for (const scenario of selected) {
  labels.set(scenario.name, scenario.variants)
  const results: [Record<string, number>[], Record<string, number>[]] = [[], []]
  for (let pair = 1; pair <= pairs; pair++) {
    for (const [index, variant] of scenario.variants.entries()) {
      results[index as 0 | 1].push(await runOnce(scenario, variant, pair))
    }
  }
  for (const metric of scenario.metrics) {
    const pick = (runs: Record<string, number>[]): number[] => runs.map((run) => run[metric.key] ?? Number.NaN)
    const summarize = metric.kind === 'total' ? (list: number[]) => list.reduce((sum, value) => sum + value, 0) : median
    rows.push({ scenario: scenario.name, metric, baseline: summarize(pick(results[0])), candidate: summarize(pick(results[1])) })
  }
}

const minutes = (performance.now() - suiteStartedAt) / 60_000
console.log('')
console.log(`Command: \`${command}\` · ${pairs} pairs per scenario · ${minutes.toFixed(1)} min · ${machine()}`)
console.log('')
console.log(table(rows, labels))
const failures = rows.filter((row) => ['FAIL', 'MISSED'].includes(verdict(row)))
process.exitCode = failures.length === 0 ? 0 : 1
