import Type, { type Static } from 'typebox'
import { MESSAGE_ID_PATTERN, MessageId, withId } from './common.ts'

/** `messageId` on an event that ends a streamed message. */
function endsMessage(description: string) {
  return Type.Optional(Type.String({ pattern: MESSAGE_ID_PATTERN, description, examples: ['msg-3f9a2c71'] }))
}
const EndsMessage = endsMessage('Set when this event ends a streamed message: the `messageId` of its `delta` events.')

export const ThoughtData = withId('AgentThoughtData', Type.Object(
  {
    content: Type.String({
      description: 'What the agent is thinking, as text.',
      examples: ['Looking up the order history first.'],
    }),
    messageId: EndsMessage,
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
    tool_call_id: Type.Optional(Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'Identifies one call across its status updates; without it, a call is told apart by `tool_name` and order.',
      examples: ['call_8e1f0b'],
    })),
    input: Type.Optional(Type.Unknown({ description: 'The arguments of the call, any JSON.', examples: [{ customer: 'c-42' }] })),
    output: Type.Optional(Type.Unknown({ description: 'What the call returned, any JSON.', examples: [{ orders: 3 }] })),
  },
  {
    description: 'Data of a `tool_call` event. Further keys travel with it unchanged.',
    additionalProperties: true,
    examples: [
      { tool_name: 'search_orders', status: 'in_progress', message: 'Querying 3 systems' },
      { tool_name: 'search_orders', status: 'completed', progress: 1 },
      { tool_name: 'search_orders', status: 'completed', tool_call_id: 'call_8e1f0b', input: { customer: 'c-42' }, output: { orders: 3 } },
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
    messageId: EndsMessage,
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

export const DELTA_KINDS = ['thought', 'result'] as const
export type DeltaKind = (typeof DELTA_KINDS)[number]

export const ErrorData = withId('AgentErrorData', Type.Object(
  {
    code: Type.String({ minLength: 1, description: 'Machine-readable error code, chosen by the app.', examples: ['TOOL_TIMEOUT'] }),
    message: Type.String({ description: 'Human-readable explanation.', examples: ['search_orders did not answer in 30 s'] }),
    details: Type.Optional(
      Type.Unknown({ description: 'Anything that helps diagnose it, of any JSON type.', examples: [{ tool: 'search_orders' }] }),
    ),
    messageId: endsMessage('Set when this error ends a streamed message (aborted, or too large to record whole).'),
    kind: Type.Optional(
      Type.Enum(DELTA_KINDS, {
        description:
          'Set with `messageId`: the kind of the message this error ended. An error that ends a `thought` message ends that message only, not the run.',
        examples: ['result'],
      }),
    ),
  },
  {
    description: 'Data of an `error` event.',
    examples: [{ code: 'TOOL_TIMEOUT', message: 'search_orders did not answer in 30 s', details: { tool: 'search_orders' } }],
  },
))
export type ErrorData = Static<typeof ErrorData>

export const DeltaData = withId('AgentDeltaData', Type.Object(
  {
    messageId: MessageId,
    kind: Type.Enum(DELTA_KINDS, {
      description: 'The event that will carry the whole message: `thought` or `result`.',
      examples: ['result'],
    }),
    text: Type.String({
      description: 'The text written since the previous delta of this message, to append to it.',
      examples: ['Refund iss'],
    }),
  },
  {
    description: 'Data of a `delta` event: a piece of a message being streamed.',
    examples: [{ messageId: 'msg-3f9a2c71', kind: 'result', text: 'Refund iss' }],
  },
))
export type DeltaData = Static<typeof DeltaData>
