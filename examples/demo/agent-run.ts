// A scripted stand-in for an AI agent: it emits what a real agent loop would (thoughts, tool calls
// moving through their statuses, then a result or an error) through `fastify.agentEvents`, one
// step at a time, so that a browser can watch the run unfold and reload in the middle of it.
import { setTimeout as sleep } from 'node:timers/promises'
import type { AgentEventsDecorator } from 'fastify-agent-events'
import type { ErrorData, ResultData, ToolCallData } from 'fastify-agent-events/schemas'

export const SCENARIOS = ['success', 'failure'] as const
export type Scenario = (typeof SCENARIOS)[number]

export type RunStep =
  | { type: 'thought'; content: string }
  | { type: 'tool_call'; data: ToolCallData }
  | { type: 'result'; data: ResultData }
  | { type: 'error'; data: ErrorData }

/** Pause between two steps: 450 ms makes a run of about 8 s, long enough to reload in the middle. */
export const DEFAULT_STEP_MS = 450

function toolCall(callId: string, toolName: string, steps: Array<[ToolCallData['status'], string?]>): RunStep[] {
  // `call_id` travels inside `data` (extra keys are allowed) so that a client can update one row
  // per call in place, even when the same tool is called twice.
  return steps.map(([status, message]) => ({
    type: 'tool_call',
    data: { tool_name: toolName, status, call_id: callId, ...(message === undefined ? {} : { message }) },
  }))
}

const SUCCESS: readonly RunStep[] = [
  { type: 'thought', content: 'The customer says order #4812 arrived damaged and asks for a refund.' },
  { type: 'thought', content: 'Looking up the order history first.' },
  ...toolCall('call-1', 'search_orders', [
    ['pending'],
    ['in_progress', 'Querying orders for customer c-2291'],
    ['completed', '3 orders found; #4812 delivered 2 days ago'],
  ]),
  { type: 'thought', content: 'Order #4812 is recent. Checking the refund policy for damaged goods.' },
  ...toolCall('call-2', 'read_policy', [
    ['pending'],
    ['in_progress', 'Reading "Returns and refunds", section 3'],
    ['completed', 'Damaged on arrival: full refund within 30 days'],
  ]),
  { type: 'thought', content: 'Eligible for a full refund. Issuing it.' },
  ...toolCall('call-3', 'issue_refund', [
    ['pending'],
    ['in_progress', 'Refunding 89.90 EUR to the original card'],
    ['completed', 'Refund r-7730 accepted'],
  ]),
  { type: 'thought', content: 'Drafting the reply to the customer.' },
  {
    type: 'result',
    data: {
      status: 'success',
      content_type: 'text/plain',
      content: 'Refund r-7730 of 89.90 EUR issued for order #4812. The customer has been told to expect it in 3–5 days.',
    },
  },
]

const FAILURE: readonly RunStep[] = [
  { type: 'thought', content: 'The customer asks for a copy of invoice INV-2025-0193.' },
  ...toolCall('call-1', 'search_orders', [
    ['pending'],
    ['in_progress', 'Finding the order behind the invoice'],
    ['completed', 'Order #3977 found'],
  ]),
  { type: 'thought', content: 'Fetching the invoice PDF from the billing system.' },
  ...toolCall('call-2', 'fetch_invoice', [
    ['pending'],
    ['in_progress', 'GET billing/invoices/INV-2025-0193'],
    ['failed', 'billing did not answer within 5 s'],
  ]),
  { type: 'thought', content: 'Billing timed out. Trying once more before giving up.' },
  ...toolCall('call-3', 'fetch_invoice', [
    ['pending'],
    ['in_progress', 'GET billing/invoices/INV-2025-0193 (attempt 2)'],
    ['failed', 'billing did not answer within 5 s'],
  ]),
  {
    type: 'error',
    data: {
      code: 'TOOL_UNAVAILABLE',
      message: 'The billing system is not answering; the invoice could not be fetched.',
      details: { tool: 'fetch_invoice', attempts: 2 },
    },
  },
]

export const SCRIPTS: Readonly<Record<Scenario, readonly RunStep[]>> = { success: SUCCESS, failure: FAILURE }

export interface RunOptions {
  scenario: Scenario
  stepMs: number
  /** Ends the run early (the server is closing). */
  signal: AbortSignal
  /**
   * Awaited before each step, after its pause: lets a test hold a run at a chosen step. It gets
   * `signal` too, and must settle once that aborts.
   */
  beforeStep?: (workflowId: string, stepIndex: number, signal: AbortSignal) => Promise<void> | void
}

/** Play one scripted run on `workflowId`. Resolves when it has ended or was aborted. */
export async function playRun(agentEvents: AgentEventsDecorator, workflowId: string, options: RunOptions): Promise<void> {
  const script = SCRIPTS[options.scenario]
  try {
    for (const [index, step] of script.entries()) {
      await sleep(options.stepMs, undefined, { signal: options.signal })
      await options.beforeStep?.(workflowId, index, options.signal)
      if (options.signal.aborted) return
      await emitStep(agentEvents, workflowId, step)
    }
  } catch (error) {
    if (!options.signal.aborted) throw error
  }
}

async function emitStep(agentEvents: AgentEventsDecorator, workflowId: string, step: RunStep): Promise<void> {
  switch (step.type) {
    case 'thought':
      await agentEvents.emitThought(workflowId, step.content)
      return
    case 'tool_call':
      await agentEvents.emitToolCall(workflowId, step.data)
      return
    case 'result':
      await agentEvents.emitResult(workflowId, step.data)
      return
    case 'error':
      await agentEvents.emitError(workflowId, step.data)
      return
  }
}
