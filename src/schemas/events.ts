import Type, { type Static, type TSchema } from 'typebox'
import { EventId, Seq, Timestamp, WorkflowId, withId } from './common.ts'
import { DeltaData, ErrorData, ResultData, ThoughtData, ToolCallData } from './event-data.ts'

export const AGENT_EVENT_TYPES = ['thought', 'tool_call', 'result', 'error', 'delta'] as const
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number]

/** Socket.IO event name of each event type. */
export const WIRE_EVENT_NAMES = {
  thought: 'agent:thought',
  tool_call: 'agent:tool_call',
  result: 'agent:result',
  error: 'agent:error',
  delta: 'agent:delta',
} as const satisfies Record<AgentEventType, string>

// Recorded events carry `seq` and `id`; direct events (to one socket or user) carry neither,
// hence the two optional properties rather than two schemas per type.
function agentEventSchema<const Kind extends AgentEventType, const Id extends string, Data extends TSchema>(
  kind: Kind,
  id: Id,
  data: Data,
  example: Record<string, unknown>,
) {
  return withId(id, Type.Object(
    {
      type: Type.Literal(kind, { description: 'The event type; the Socket.IO event name is `agent:<type>`.' }),
      workflowId: WorkflowId,
      data,
      timestamp: Timestamp,
      seq: Type.Optional(Seq),
      id: Type.Optional(EventId),
    },
    {
      additionalProperties: false,
      description: `The \`${WIRE_EVENT_NAMES[kind]}\` event. \`seq\` and \`id\` are present on workflow events and absent on direct ones.`,
      examples: [
        {
          type: kind,
          workflowId: 'wf-6f1c2d9e',
          data: example,
          timestamp: '2026-01-01T12:00:00.000Z',
          seq: 1,
          id: '2b7f6c1e-5d7a-4c6b-9a51-0c1f4f8e9d10',
        },
        // A direct event (to one socket or one user): neither `seq` nor `id`.
        { type: kind, workflowId: 'wf-6f1c2d9e', data: example, timestamp: '2026-01-01T12:00:00.000Z' },
      ],
    },
  ))
}

export const AgentThoughtEvent = agentEventSchema('thought', 'AgentThoughtEvent', ThoughtData, {
  content: 'Looking up the order history first.',
})
export type AgentThoughtEvent = Static<typeof AgentThoughtEvent>

export const AgentToolCallEvent = agentEventSchema('tool_call', 'AgentToolCallEvent', ToolCallData, {
  tool_name: 'search_orders',
  status: 'in_progress',
})
export type AgentToolCallEvent = Omit<Static<typeof AgentToolCallEvent>, 'data'> & { data: ToolCallData }

export const AgentResultEvent = agentEventSchema('result', 'AgentResultEvent', ResultData, {
  status: 'success',
  content_type: 'text/plain',
  content: 'Refund issued.',
})
export type AgentResultEvent = Omit<Static<typeof AgentResultEvent>, 'data'> & { data: ResultData }

export const AgentErrorEvent = agentEventSchema('error', 'AgentErrorEvent', ErrorData, {
  code: 'TOOL_TIMEOUT',
  message: 'search_orders did not answer in 30 s',
})
export type AgentErrorEvent = Static<typeof AgentErrorEvent>

export const AgentDeltaEvent = agentEventSchema('delta', 'AgentDeltaEvent', DeltaData, {
  messageId: 'msg-3f9a2c71',
  kind: 'result',
  text: 'Refund iss',
})
export type AgentDeltaEvent = Static<typeof AgentDeltaEvent>

export const AgentEvent = withId('AgentEvent', Type.Union([AgentThoughtEvent, AgentToolCallEvent, AgentResultEvent, AgentErrorEvent, AgentDeltaEvent], {
  description: 'Any agent event, told apart by `type`.',
  examples: [
    {
      type: 'thought',
      workflowId: 'wf-6f1c2d9e',
      data: { content: 'Looking up the order history first.' },
      timestamp: '2026-01-01T12:00:00.000Z',
      seq: 1,
      id: '2b7f6c1e-5d7a-4c6b-9a51-0c1f4f8e9d10',
    },
    {
      type: 'tool_call',
      workflowId: 'wf-6f1c2d9e',
      data: { tool_name: 'search_orders', status: 'completed', progress: 1 },
      timestamp: '2026-01-01T12:00:01.000Z',
      seq: 2,
      id: '7d0e5a3b-1f2c-4e8d-b6a9-3c5d7e9f1a2b',
    },
  ],
}))
export type AgentEvent = AgentThoughtEvent | AgentToolCallEvent | AgentResultEvent | AgentErrorEvent | AgentDeltaEvent

/** The event of one type, by its `type`. */
export type AgentEventOf<Kind extends AgentEventType> = Extract<AgentEvent, { type: Kind }>

/** An event as stored for replay: always with `seq` and `id`. */
export type RecordedAgentEvent = AgentEvent & { seq: number; id: string }

export const EVENT_SCHEMAS = {
  thought: AgentThoughtEvent,
  tool_call: AgentToolCallEvent,
  result: AgentResultEvent,
  error: AgentErrorEvent,
  delta: AgentDeltaEvent,
} as const
