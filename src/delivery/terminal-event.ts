import type { RecordedAgentEvent } from '../schemas/index.ts'

/**
 * The event after which a workflow's run has nothing more to say: its `result`, or an `error` that
 * does not only end a `thought` message. A failed thought (its stream aborted, or too large to
 * record whole) records `agent:error` with `kind: 'thought'`, and the run goes on after it; a
 * failed result stream, or an error of the run itself, ends the run.
 */
export function isTerminalEvent(event: RecordedAgentEvent): boolean {
  if (event.type === 'result') return true
  if (event.type !== 'error') return false
  return (event.data as { kind?: unknown }).kind !== 'thought'
}
