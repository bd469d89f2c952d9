import Type, { type Static, type TSchema } from 'typebox'

/**
 * TypeBox 1 keeps a schema's options (its `$id` among them) out of the schema's type, so
 * `AgentThoughtEvent.$id` would not type-check. Every exported schema gets its `$id` here instead,
 * typed as the literal.
 */
export function withId<const Id extends string, Schema extends TSchema>($id: Id, schema: Schema): Schema & { readonly $id: Id } {
  return Object.assign(schema, { $id })
}

/** Matches `^[A-Za-z0-9._:-]{1,128}$`: UUIDs, slugs and `tenant:run` style ids fit. */
export const WORKFLOW_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$'

// No $id: it is embedded in many schemas, and one $id twice in a document breaks $ref resolution.
export const WorkflowId = Type.String({
  pattern: WORKFLOW_ID_PATTERN,
  description: 'Identifier of one agent workflow run.',
  examples: ['wf-6f1c2d9e'],
})
export type WorkflowId = Static<typeof WorkflowId>

export const Timestamp = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$',
  description: 'ISO 8601 UTC time at which the server built the event.',
  examples: ['2026-01-01T12:00:00.000Z'],
})

export const Seq = Type.Integer({
  minimum: 1,
  description: 'Per-workflow sequence number: 1 for the first recorded event, rising by 1.',
  examples: [1],
})

export const EventId = Type.String({
  minLength: 1,
  description: 'Identifier unique to one recorded event.',
  examples: ['2b7f6c1e-5d7a-4c6b-9a51-0c1f4f8e9d10'],
})

/** Same characters as a workflow id: the AI SDK's and AG-UI's message ids fit. */
export const MESSAGE_ID_PATTERN = WORKFLOW_ID_PATTERN

// No $id, for the same reason as WorkflowId.
export const MessageId = Type.String({
  pattern: MESSAGE_ID_PATTERN,
  description: 'Identifier of one streamed message, shared by its `delta` events and the event that ends it.',
  examples: ['msg-3f9a2c71'],
})
export type MessageId = Static<typeof MessageId>
