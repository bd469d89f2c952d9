import Type, { type Static } from 'typebox'
import { withId } from './common.ts'

export const ThoughtData = withId('AgentThoughtData', Type.Object(
  {
    content: Type.String({
      description: 'What the agent is thinking, as text.',
      examples: ['Looking up the order history first.'],
    }),
  },
  {
    description: 'Data of a `thought` event.',
    examples: [{ content: 'Looking up the order history first.' }],
  },
))
export type ThoughtData = Static<typeof ThoughtData>

export const TOOL_CALL_STATUSES = ['pending', 'in_progress', 'completed', 'failed'] as const
export type ToolCallStatus = (typeof TOOL_CALL_STATUSES)[number]

/** Extra keys (progress, arguments, output…) are allowed and travel as given. */
export const ToolCallData = withId('AgentToolCallData', Type.Object(
  {
    tool_name: Type.String({ minLength: 1, description: 'Name of the tool being called.', examples: ['search_orders'] }),
    status: Type.Enum(TOOL_CALL_STATUSES, {
      description: 'Where the call stands: `pending`, `in_progress`, `completed` or `failed`.',
      examples: ['in_progress'],
    }),
    message: Type.Optional(Type.String({ description: 'Human-readable detail.', examples: ['Querying 3 systems'] })),
  },
  {
    description: 'Data of a `tool_call` event. Further keys travel with it unchanged.',
    additionalProperties: true,
    examples: [
      { tool_name: 'search_orders', status: 'in_progress', message: 'Querying 3 systems' },
      { tool_name: 'search_orders', status: 'completed', progress: 1 },
    ],
  },
))
export type ToolCallData = Static<typeof ToolCallData> & Record<string, unknown>

/** Any object; `status`, `content_type` and `content` are the conventional keys. */
export const ResultData = withId('AgentResultData', Type.Object(
  {
    status: Type.Optional(Type.String({ description: 'Outcome, for instance `success`.', examples: ['success'] })),
    content_type: Type.Optional(
      Type.String({ description: 'Media type of `content`.', examples: ['text/markdown', 'application/json'] }),
    ),
    content: Type.Optional(Type.Unknown({ description: 'The result itself, of any JSON type.', examples: ['Refund issued.'] })),
  },
  {
    description: 'Data of a `result` event: any object, with conventional keys.',
    additionalProperties: true,
    examples: [
      { status: 'success', content_type: 'text/markdown', content: 'Refund issued.' },
      { status: 'success', content_type: 'application/json', content: { refunded: 42.5, currency: 'EUR' } },
    ],
  },
))
export type ResultData = Static<typeof ResultData> & Record<string, unknown>

export const ErrorData = withId('AgentErrorData', Type.Object(
  {
    code: Type.String({ minLength: 1, description: 'Machine-readable error code, chosen by the app.', examples: ['TOOL_TIMEOUT'] }),
    message: Type.String({ description: 'Human-readable explanation.', examples: ['search_orders did not answer in 30 s'] }),
    details: Type.Optional(
      Type.Unknown({ description: 'Anything that helps diagnose it, of any JSON type.', examples: [{ tool: 'search_orders' }] }),
    ),
  },
  {
    description: 'Data of an `error` event.',
    examples: [{ code: 'TOOL_TIMEOUT', message: 'search_orders did not answer in 30 s', details: { tool: 'search_orders' } }],
  },
))
export type ErrorData = Static<typeof ErrorData>
