import { Compile } from 'typebox/compile'
import type { TSchema } from 'typebox'
import { invalidEvent, type EventValidationIssue } from './errors.ts'
import { AGENT_EVENT_TYPES, EVENT_SCHEMAS, WORKFLOW_ID_PATTERN, type AgentEventType } from './schemas/index.ts'
import type { UnrecordedAgentEvent } from './replay/replay-store.ts'

const WORKFLOW_ID = new RegExp(WORKFLOW_ID_PATTERN)
const EVENT_TYPES: ReadonlySet<string> = new Set(AGENT_EVENT_TYPES)

interface CompiledCheck {
  Check(value: unknown): boolean
  Errors(value: unknown): Iterable<{ instancePath: string; message: string }>
}

// Compiled once, when this module loads: never per emit. Each checks the `data` schema of its
// event type, the same schema object that the event's own schema holds.
const dataValidators = Object.fromEntries(
  AGENT_EVENT_TYPES.map((type) => [type, Compile(EVENT_SCHEMAS[type].properties.data as TSchema) as unknown as CompiledCheck]),
) as Record<AgentEventType, CompiledCheck>

/** `/tool_name` inside data → `data.tool_name`; data itself → `data`. */
function dataFieldOf(instancePath: string): string {
  return `data${instancePath.replaceAll('/', '.')}`
}

function reject(issues: EventValidationIssue[]): never {
  throw invalidEvent(issues)
}

const WORKFLOW_ID_ISSUE: EventValidationIssue = { field: 'workflowId', message: `must match ${WORKFLOW_ID_PATTERN}` }
const isWorkflowId = (value: unknown): value is string => typeof value === 'string' && WORKFLOW_ID.test(value)

/** A workflow id names a room: it must be well formed wherever it comes from. */
export function assertWorkflowId(workflowId: unknown): void {
  if (!isWorkflowId(workflowId)) reject([WORKFLOW_ID_ISSUE])
}

/** A read's position (`afterSeq`, where given): the `seq` of an event, an integer >= 0. */
export function assertOptionalSeq(field: string, value: unknown): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 0)) reject([{ field, message: 'must be an integer >= 0' }])
}

/** A read's switch (`compact`, `resume`), where given. */
export function assertOptionalBoolean(field: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') reject([{ field, message: 'must be a boolean' }])
}

/**
 * Checks that always run, even with `validate: false`: the type must be known and the workflow id
 * well formed, because both pick the room and the wire event name.
 */
export function assertRoutable(event: { type?: unknown; workflowId?: unknown }): void {
  const knownType = typeof event.type === 'string' && EVENT_TYPES.has(event.type)
  const wellFormedId = isWorkflowId(event.workflowId)
  // Called on every emit: the list of issues is built only when there is one.
  if (knownType && wellFormedId) return
  const issues: EventValidationIssue[] = []
  if (!knownType) issues.push({ field: 'type', message: `must be one of ${AGENT_EVENT_TYPES.join(', ')}` })
  if (!wellFormedId) issues.push(WORKFLOW_ID_ISSUE)
  reject(issues)
}

/**
 * Schema check of an event built by the emitter; the error names each offending field once.
 * Only `data` comes from the caller: the emitter makes the rest (the type and workflow id that
 * `assertRoutable` checked, its own ISO timestamp, no other key), so checking the envelope again
 * on every emit would only repeat two pattern tests and a walk over the keys.
 */
export function assertValidEvent(event: UnrecordedAgentEvent): void {
  const validator = dataValidators[event.type]
  if (validator.Check(event.data)) return
  const byField = new Map<string, string>()
  for (const error of validator.Errors(event.data)) {
    const field = dataFieldOf(error.instancePath)
    if (!byField.has(field)) byField.set(field, error.message)
  }
  reject([...byField].map(([field, message]) => ({ field, message })))
}
