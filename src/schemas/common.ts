import Type, { type Static } from 'typebox'

/** Matches `^[A-Za-z0-9._:-]{1,128}$`: UUIDs, slugs and `tenant:run` style ids fit. */
export const WORKFLOW_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$'

const WORKFLOW_ID_ANNOTATIONS = {
  pattern: WORKFLOW_ID_PATTERN,
  description: 'Identifier of one agent workflow run: 1 to 128 letters, digits, `.`, `_`, `:` or `-`.',
  examples: ['wf-6f1c2d9e', '2b7f6c1e-5d7a-4c6b-9a51-0c1f4f8e9d10'],
} as const

/** The workflow id on its own, for route `params` and querystrings. */
export const WorkflowId = Type.String({ $id: 'AgentWorkflowId', ...WORKFLOW_ID_ANNOTATIONS })
export type WorkflowId = Static<typeof WorkflowId>

// The same constraint without an `$id`, for embedding: Ajv (Fastify's validator and
// fast-json-stringify's) refuses a schema in which one `$id` appears twice, and `AgentEvent`
// embeds the workflow id once per member.
export const WorkflowIdField = Type.String(WORKFLOW_ID_ANNOTATIONS)

export const Timestamp = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$',
  description: 'ISO 8601 UTC time at which the server built the event, ending in `Z`.',
  examples: ['2026-01-01T12:00:00.000Z'],
})

export const Seq = Type.Integer({
  minimum: 1,
  description: 'Per-workflow sequence number: 1 for the first recorded event, rising by 1. Absent on direct events.',
  examples: [1, 42],
})

export const EventId = Type.String({
  minLength: 1,
  description: 'Identifier unique to one recorded event. Absent on direct events.',
  examples: ['2b7f6c1e-5d7a-4c6b-9a51-0c1f4f8e9d10'],
})
