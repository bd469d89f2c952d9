// What a scenario is, so that new ones (for instance a Redis fan-out) plug into run.ts the same way.
import type { Call } from './ipc.ts'

export type Implementation = 'raw' | 'plugin'

export interface Variant {
  /** Column name in the summary, e.g. `raw` or `plugin`. */
  label: string
  /** Which server process runs it (see server.ts). */
  server: Implementation
  /** Plugin options of this variant's server, over the bench's own (`rateLimit: false`). */
  options?: Record<string, unknown>
}

export interface Metric {
  key: string
  label: string
  /**
   * `ratio`: medians of both variants and candidate / baseline; `total`: a count summed over all
   * runs of each variant (losses), where anything but 0 fails.
   */
  kind: 'ratio' | 'total'
  /** The ratio the candidate must stay at or under (`max`) or at or over (`min`). */
  target?: { max: number } | { min: number }
  /** Bounds of one variant's own median (the candidate's unless `of` names another). */
  bound?: { max?: number; min?: number }
  /** The label of the variant that `bound` holds for. */
  of?: string
}

export interface RunContext<Size> {
  size: Size
  variant: Variant
  url: string
  server: Call
  client: Call
  /** With `--heap-snapshot`, the server writes a heap snapshot named after this run and `label`; otherwise nothing. */
  heapSnapshot(label: string): Promise<void>
}

export interface Scenario<Size = Record<string, number>> {
  name: string
  summary: string
  /**
   * `[baseline, candidate, ...others]`: runs alternate between them, baseline first. Other
   * variants are measured for reference; a scenario with any gets a table of its own, one column
   * per variant.
   */
  variants: readonly [Variant, Variant, ...Variant[]]
  sizes: { full: Size; quick: Size }
  metrics: readonly Metric[]
  run(context: RunContext<Size>): Promise<Record<string, number>>
}

/** Lets each scenario keep its own `Size` type while the registry holds them all. */
export const defineScenario = <Size>(scenario: Scenario<Size>): Scenario<unknown> => scenario as Scenario<unknown>
