// npm run bench [-- --scenario NAME ...] [--variant LABEL ...] [--quick] [--pairs N] [--profile]
// [--heap-snapshot]
// (--variant runs only the variants of that label, for a look at one of them: a ratio needs both
// the baseline and the candidate)
// (--profile writes a CPU profile of every server process to bench/profiles/: of the measured
// phase where the scenario has one, of the whole process otherwise; --heap-snapshot writes the
// heap snapshots that a scenario asks for there too: memory, before and after the clients connect)
//
// Each scenario runs its variants alternately (A B A B…, at least three pairs); every run has
// a fresh server process and a fresh client process. One JSON line per run goes to stdout, then a
// table of medians and candidate/baseline ratios, and a table of its own for each scenario with
// more than two variants (see scenario.ts). Ratios, not absolute figures, are what count: the
// machine is shared and drifts between runs.
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

/** Scenarios printed in the shared table: two variants and no bound of their own. */
const inSharedTable = (scenario: Scenario<unknown>): boolean =>
  scenario.variants.length === 2 && scenario.metrics.every((metric) => metric.bound === undefined)

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    variant: { type: 'string', multiple: true },
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
const variants = values.variant?.flatMap((label) => label.split(','))
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
  const serverProcess = start('./server.ts', [variant.server, JSON.stringify(variant.options ?? {})], profileName)
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

/** Medians of each variant's runs (sums for `total` metrics); undefined where a variant does not report the metric. */
function summarize(metric: Metric, runs: Record<string, number>[]): number | undefined {
  const values = runs.map((run) => run[metric.key]).filter((value) => value !== undefined)
  if (values.length === 0) return undefined
  return metric.kind === 'total' ? values.reduce((sum, value) => sum + value, 0) : median(values)
}

interface VariantRow {
  metric: Metric
  /** One per variant, in the scenario's order. */
  values: (number | undefined)[]
}

const within = (value: number | undefined, bound: { max?: number; min?: number }): boolean =>
  value !== undefined && (bound.max === undefined || value <= bound.max) && (bound.min === undefined || value >= bound.min)

function variantVerdict(scenario: Scenario<unknown>, row: VariantRow): string {
  const { metric, values } = row
  if (metric.kind === 'total') return values.every((value) => value === undefined || value === 0) ? 'ok' : 'FAIL'
  const checks: boolean[] = []
  const [baseline, candidate] = values
  if (metric.target !== undefined) {
    const ratio = candidate === undefined || baseline === undefined ? Number.NaN : candidate / baseline
    checks.push('max' in metric.target ? ratio <= metric.target.max : ratio >= metric.target.min)
  }
  if (metric.bound !== undefined) {
    const index = metric.of === undefined ? 1 : scenario.variants.findIndex((variant) => variant.label === metric.of)
    checks.push(within(values[index], metric.bound))
  }
  if (checks.length === 0) return ''
  return checks.every(Boolean) ? 'ok' : 'MISSED'
}

function variantTarget(scenario: Scenario<unknown>, metric: Metric): string {
  if (metric.kind === 'total') return '0'
  const [baseline, candidate] = scenario.variants
  const parts: string[] = []
  if (metric.target !== undefined) {
    const [sign, value] = 'max' in metric.target ? ['≤', metric.target.max] : ['≥', metric.target.min]
    parts.push(`${candidate.label} ${sign} ${value.toFixed(2)} × ${baseline.label}`)
  }
  if (metric.bound !== undefined) {
    const { max, min } = metric.bound
    const of = metric.of ?? candidate.label
    if (max !== undefined && max === min) parts.push(`${of} = ${max}`)
    else {
      if (max !== undefined) parts.push(`${of} ≤ ${max}`)
      if (min !== undefined) parts.push(`${of} ≥ ${min}`)
    }
  }
  return parts.join(', ')
}

/** One column per variant, the candidate/baseline ratio, and the targets. */
function variantTable(scenario: Scenario<unknown>, rows: VariantRow[]): string {
  const [baseline, candidate] = scenario.variants
  const labels = scenario.variants.map((variant) => variant.label)
  const lines = [
    `| ${scenario.name}: metric | ${labels.join(' | ')} | ${candidate.label} / ${baseline.label} | target | |`,
    `|---|${labels.map(() => '---:').join('|')}|---:|---|---|`,
  ]
  for (const row of rows) {
    const total = row.metric.kind === 'total'
    const [base, cand] = row.values
    const ratio = total || base === undefined || cand === undefined ? '' : (cand / base).toFixed(2)
    const cells = row.values.map((value) => (value === undefined ? '' : String(round(value))))
    lines.push(`| ${row.metric.label}${total ? ' (sum)' : ''} | ${cells.join(' | ')} | ${ratio} | ${variantTarget(scenario, row.metric)} | ${variantVerdict(scenario, row)} |`)
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
const ownTables: { scenario: Scenario<unknown>; rows: VariantRow[] }[] = []
for (const scenario of selected) {
  const results: Record<string, number>[][] = scenario.variants.map(() => [])
  for (let pair = 1; pair <= pairs; pair++) {
    for (const [index, variant] of scenario.variants.entries()) {
      if (variants !== undefined && !variants.includes(variant.label)) continue
      results[index]?.push(await runOnce(scenario, variant, pair))
    }
  }
  if (!inSharedTable(scenario)) {
    ownTables.push({ scenario, rows: scenario.metrics.map((metric) => ({ metric, values: results.map((runs) => summarize(metric, runs)) })) })
    continue
  }
  labels.set(scenario.name, [scenario.variants[0], scenario.variants[1]])
  for (const metric of scenario.metrics) {
    const [baseline = Number.NaN, candidate = Number.NaN] = results.map((runs) => summarize(metric, runs))
    rows.push({ scenario: scenario.name, metric, baseline, candidate })
  }
}

const minutes = (performance.now() - suiteStartedAt) / 60_000
console.log('')
console.log(`Command: \`${command}\` · ${pairs} pairs per scenario · ${minutes.toFixed(1)} min · ${machine()}`)
console.log('')
if (rows.length > 0) console.log(table(rows, labels))
for (const { scenario, rows: variantRows } of ownTables) {
  console.log('')
  console.log(variantTable(scenario, variantRows))
}
const failed = (verdictText: string): boolean => ['FAIL', 'MISSED'].includes(verdictText)
const failures =
  rows.filter((row) => failed(verdict(row))).length +
  ownTables.reduce((sum, { scenario, rows: variantRows }) => sum + variantRows.filter((row) => failed(variantVerdict(scenario, row))).length, 0)
process.exitCode = failures === 0 ? 0 : 1
