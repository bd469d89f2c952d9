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

// Compiled once, when this module loads: never per emit.
const validators = Object.fromEntries(
  AGENT_EVENT_TYPES.map((type) => [type, Compile(EVENT_SCHEMAS[type] as TSchema) as unknown as CompiledCheck]),
) as Record<AgentEventType, CompiledCheck>

function fieldOf(instancePath: string): string {
  return instancePath === '' ? '(event)' : instancePath.slice(1).replaceAll('/', '.')
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

/**
 * Checks that always run, even with `validate: false`: the type must be known and the workflow id
 * well formed, because both pick the room and the wire event name.
 */
export function assertRoutable(event: { type?: unknown; workflowId?: unknown }): void {
  const issues: EventValidationIssue[] = []
  if (typeof event.type !== 'string' || !EVENT_TYPES.has(event.type)) {
    issues.push({ field: 'type', message: `must be one of ${AGENT_EVENT_TYPES.join(', ')}` })
  }
  if (!isWorkflowId(event.workflowId)) issues.push(WORKFLOW_ID_ISSUE)
  if (issues.length > 0) reject(issues)
}

/** Full schema check of a built event; the error names each offending field once. */
export function assertValidEvent(event: UnrecordedAgentEvent): void {
  const validator = validators[event.type]
  if (validator.Check(event)) return
  const byField = new Map<string, string>()
  for (const error of validator.Errors(event)) {
    const field = fieldOf(error.instancePath)
    if (!byField.has(field)) byField.set(field, error.message)
  }
  reject([...byField].map(([field, message]) => ({ field, message })))
}
