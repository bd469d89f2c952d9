// A scripted stand-in for an AI agent: it emits what a real agent loop would (thoughts, tool calls
// moving through their statuses, then a result or an error) through `fastify.agentEvents`, one
// step at a time, so that a browser can watch the run unfold and reload in the middle of it.
// Thoughts and the result are written a few characters at a time, as a model writes them, with
// `fastify.agentEvents.stream()`.
import { setTimeout as sleep } from 'node:timers/promises'
import type { AgentEventsDecorator } from 'fastify-agent-events'
import type { ErrorData, ResultData, ToolCallData } from 'fastify-agent-events/schemas'

export const SCENARIOS = ['success', 'failure'] as const
export type Scenario = (typeof SCENARIOS)[number]

export type RunStep =
  | { type: 'thought'; content: string }
  | { type: 'tool_call'; data: ToolCallData }
  | { type: 'result'; data: ResultData & { content: string } }
  | { type: 'error'; data: ErrorData }

/** Pause between two steps: with the text written at `DEFAULT_TOKEN_MS`, a run takes about 10 s. */
export const DEFAULT_STEP_MS = 450
/** Pause before each token-sized piece of a thought or of the result: about as fast as a model writes. */
export const DEFAULT_TOKEN_MS = 30

interface ToolCallStep {
  status: ToolCallData['status']
  message?: string
  input?: unknown
  output?: unknown
}

function toolCall(callId: string, toolName: string, steps: ToolCallStep[]): RunStep[] {
  // `tool_call_id` is shared by every status update of one call, so that a client can update one
  // row per call in place, even when the same tool is called twice.
  return steps.map(({ status, ...rest }) => ({ type: 'tool_call', data: { tool_name: toolName, status, tool_call_id: callId, ...rest } }))
}

/**
 * The token-sized pieces a model would write `text` in: up to five characters of a word, with the
 * spaces after them. Joined, they are `text` again.
 */
export function tokens(text: string): string[] {
  return text.match(/\S{1,5}\s*|\s+/g) ?? []
}

const SUCCESS: readonly RunStep[] = [
  { type: 'thought', content: 'The customer says order #4812 arrived damaged and asks for a refund.' },
  { type: 'thought', content: 'Looking up the order history first.' },
  ...toolCall('call-1', 'search_orders', [
    { status: 'pending', input: { customer: 'c-2291' } },
    { status: 'in_progress', message: 'Querying orders for customer c-2291' },
    { status: 'completed', message: '3 orders found; #4812 delivered 2 days ago', output: { orders: 3, latest: { id: 4812, delivered: '2 days ago' } } },
  ]),
  { type: 'thought', content: 'Order #4812 is recent. Checking the refund policy for damaged goods.' },
  ...toolCall('call-2', 'read_policy', [
    { status: 'pending', input: { document: 'Returns and refunds', section: 3 } },
    { status: 'in_progress', message: 'Reading "Returns and refunds", section 3' },
    { status: 'completed', message: 'Damaged on arrival: full refund within 30 days', output: { refund: 'full', withinDays: 30 } },
  ]),
  { type: 'thought', content: 'Eligible for a full refund. Issuing it.' },
  ...toolCall('call-3', 'issue_refund', [
    { status: 'pending', input: { order: 4812, amount: 89.9, currency: 'EUR' } },
    { status: 'in_progress', message: 'Refunding 89.90 EUR to the original card' },
    { status: 'completed', message: 'Refund r-7730 accepted', output: { refund: 'r-7730' } },
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
    { status: 'pending', input: { invoice: 'INV-2025-0193' } },
    { status: 'in_progress', message: 'Finding the order behind the invoice' },
    { status: 'completed', message: 'Order #3977 found', output: { order: 3977 } },
  ]),
  { type: 'thought', content: 'Fetching the invoice PDF from the billing system.' },
  ...toolCall('call-2', 'fetch_invoice', [
    { status: 'pending', input: { invoice: 'INV-2025-0193' } },
    { status: 'in_progress', message: 'GET billing/invoices/INV-2025-0193' },
    { status: 'failed', message: 'billing did not answer within 5 s' },
  ]),
  { type: 'thought', content: 'Billing timed out. Trying once more before giving up.' },
  ...toolCall('call-3', 'fetch_invoice', [
    { status: 'pending', input: { invoice: 'INV-2025-0193', attempt: 2 } },
    { status: 'in_progress', message: 'GET billing/invoices/INV-2025-0193 (attempt 2)' },
    { status: 'failed', message: 'billing did not answer within 5 s' },
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
  /** Pause before each token-sized piece of a streamed thought or result. */
  tokenMs: number
  /** Ends the run early (the server is closing). */
  signal: AbortSignal
  /**
   * Awaited before each step, after its pause: lets a test hold a run at a chosen step. It gets
   * `signal` too, and must settle once that aborts.
   */
  beforeStep?: (workflowId: string, stepIndex: number, signal: AbortSignal) => Promise<void> | void
  /**
   * Awaited before each token of a streamed step is written (`tokenIndex` counts from 0): lets a
   * test hold a message half-written. Same rules as `beforeStep`.
   */
  beforeToken?: (workflowId: string, stepIndex: number, tokenIndex: number, signal: AbortSignal) => Promise<void> | void
}

/** What ends a message that was still being written when its run stopped. */
const RUN_STOPPED: ErrorData = { code: 'RUN_STOPPED', message: 'The run stopped before this message was finished' }

/** Play one scripted run on `workflowId`. Resolves when it has ended or was aborted. */
export async function playRun(agentEvents: AgentEventsDecorator, workflowId: string, options: RunOptions): Promise<void> {
  const script = SCRIPTS[options.scenario]
  try {
    for (const [index, step] of script.entries()) {
      await sleep(options.stepMs, undefined, { signal: options.signal })
      await options.beforeStep?.(workflowId, index, options.signal)
      if (options.signal.aborted) return
      await playStep(agentEvents, workflowId, step, index, options)
    }
  } catch (error) {
    if (!options.signal.aborted) throw error
  }
}

async function playStep(agentEvents: AgentEventsDecorator, workflowId: string, step: RunStep, index: number, options: RunOptions): Promise<void> {
  switch (step.type) {
    case 'thought': {
      const stream = agentEvents.stream(workflowId, { kind: 'thought' })
      await writeMessage(stream, step.content, index, options, () => stream.end())
      return
    }
    case 'tool_call':
      await agentEvents.emitToolCall(workflowId, step.data)
      return
    case 'result': {
      // The stream sets content and messageId itself: the rest (status, content_type) goes to end().
      const { content, messageId, ...rest } = step.data
      const stream = agentEvents.stream(workflowId, messageId === undefined ? { kind: 'result' } : { kind: 'result', messageId })
      await writeMessage(stream, content, index, options, () => stream.end(rest))
      return
    }
    case 'error':
      await agentEvents.emitError(workflowId, step.data)
      return
  }
}

type OpenMessage = Pick<ReturnType<AgentEventsDecorator['stream']>, 'workflowId' | 'write' | 'abort'>

/**
 * Write `text` into `stream` one token at a time, then end it with `end`. A run stopped halfway (or
 * failing) ends the message with `agent:error` instead, so that no client waits for its end; where
 * the server's close already ended it, there is nothing left to do.
 */
async function writeMessage(stream: OpenMessage, text: string, stepIndex: number, options: RunOptions, end: () => Promise<unknown>): Promise<void> {
  try {
    for (const [index, token] of tokens(text).entries()) {
      await sleep(options.tokenMs, undefined, { signal: options.signal })
      await options.beforeToken?.(stream.workflowId, stepIndex, index, options.signal)
      options.signal.throwIfAborted()
      stream.write(token)
    }
    await end()
  } catch (error) {
    await stream.abort(RUN_STOPPED).catch(() => undefined)
    throw error
  }
}
