import Type, { type Static } from 'typebox'
import { WorkflowId } from './common.ts'

/** Codes that a client may find in `ack.error.code`. */
export const CLIENT_ERROR_CODES = [
  'INVALID_REQUEST',
  'FORBIDDEN',
  'RATE_LIMITED',
  'TOO_MANY_SUBSCRIPTIONS',
  'AUTH_INVALID',
  'INTERNAL',
] as const
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number]

/** Codes that a refused handshake carries in `connect_error`'s `err.data.code`. */
export const HANDSHAKE_ERROR_CODES = [
  'AUTH_REQUIRED',
  'AUTH_INVALID',
  'AUTH_EXPIRED',
  'AUTH_INVALID_PAYLOAD',
  'RATE_LIMITED',
] as const
export type HandshakeErrorCode = (typeof HANDSHAKE_ERROR_CODES)[number]

export const ErrorAck = Type.Object(
  {
    ok: Type.Literal(false),
    error: Type.Object(
      {
        code: Type.Enum(CLIENT_ERROR_CODES),
        message: Type.String(),
        retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      { additionalProperties: false },
    ),
  },
  {
    $id: 'AgentErrorAck',
    description: 'Acknowledgement of a refused client request.',
    additionalProperties: false,
    examples: [{ ok: false, error: { code: 'FORBIDDEN', message: 'Not allowed to follow this workflow' } }],
  },
)
export type ErrorAck = Static<typeof ErrorAck>

export const SubscribeRequest = Type.Object(
  {
    workflowId: WorkflowId,
    afterSeq: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Replay every recorded event with a greater `seq` first.' }),
    ),
    epoch: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'The `epoch` of the last ack this client had.' }),
    ),
  },
  {
    $id: 'AgentSubscribeRequest',
    description: 'Payload of `agent:subscribe`.',
    additionalProperties: false,
    examples: [{ workflowId: 'wf-6f1c2d9e', afterSeq: 41, epoch: 'k3J9x0aQ' }],
  },
)
export type SubscribeRequest = Static<typeof SubscribeRequest>

export const SubscribeOk = Type.Object(
  {
    ok: Type.Literal(true),
    workflowId: WorkflowId,
    epoch: Type.String({ description: 'Current life of the workflow buffer; send it back on resubscribe.' }),
    lastSeq: Type.Integer({ minimum: 0, description: 'Highest `seq` of the workflow when the ack was sent.' }),
    replayed: Type.Integer({ minimum: 0, description: 'How many events were replayed before this ack.' }),
    truncated: Type.Boolean({ description: 'Events after `afterSeq` had already left the buffer.' }),
  },
  { additionalProperties: false },
)

export const SubscribeAck = Type.Union([SubscribeOk, ErrorAck], {
  $id: 'AgentSubscribeAck',
  description: 'Acknowledgement of `agent:subscribe`.',
  examples: [{ ok: true, workflowId: 'wf-6f1c2d9e', epoch: 'k3J9x0aQ', lastSeq: 42, replayed: 1, truncated: false }],
})
export type SubscribeAck = Static<typeof SubscribeAck>

export const UnsubscribeRequest = Type.Object(
  { workflowId: WorkflowId },
  {
    $id: 'AgentUnsubscribeRequest',
    description: 'Payload of `agent:unsubscribe`.',
    additionalProperties: false,
    examples: [{ workflowId: 'wf-6f1c2d9e' }],
  },
)
export type UnsubscribeRequest = Static<typeof UnsubscribeRequest>

export const UnsubscribeAck = Type.Union([Type.Object({ ok: Type.Literal(true) }, { additionalProperties: false }), ErrorAck], {
  $id: 'AgentUnsubscribeAck',
  description: 'Acknowledgement of `agent:unsubscribe`.',
  examples: [{ ok: true }],
})
export type UnsubscribeAck = Static<typeof UnsubscribeAck>

export const RefreshRequest = Type.Object(
  { token: Type.String({ minLength: 1, description: 'A newer JWT for the same user.' }) },
  {
    $id: 'AgentRefreshRequest',
    description: 'Payload of `auth:refresh`.',
    additionalProperties: false,
    examples: [{ token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTgwMDAwMDAwMH0.signature' }],
  },
)
export type RefreshRequest = Static<typeof RefreshRequest>

export const RefreshAck = Type.Union(
  [
    Type.Object(
      { ok: Type.Literal(true), expiresAt: Type.String({ description: 'ISO 8601 time at which the new token expires.' }) },
      { additionalProperties: false },
    ),
    ErrorAck,
  ],
  {
    $id: 'AgentRefreshAck',
    description: 'Acknowledgement of `auth:refresh`.',
    examples: [{ ok: true, expiresAt: '2026-01-01T13:00:00.000Z' }],
  },
)
export type RefreshAck = Static<typeof RefreshAck>

export const AuthExpiredNotice = Type.Object(
  { code: Type.Literal('AUTH_EXPIRED'), message: Type.String() },
  {
    $id: 'AgentAuthExpired',
    description: 'Sent just before the server disconnects a socket whose token expired.',
    additionalProperties: false,
    examples: [{ code: 'AUTH_EXPIRED', message: 'Token expired' }],
  },
)
export type AuthExpiredNotice = Static<typeof AuthExpiredNotice>

export const ServerShutdownNotice = Type.Object(
  { reconnect: Type.Literal(true) },
  {
    $id: 'AgentServerShutdown',
    description: 'Sent when the server closes, before it disconnects the socket.',
    additionalProperties: false,
    examples: [{ reconnect: true }],
  },
)
export type ServerShutdownNotice = Static<typeof ServerShutdownNotice>
