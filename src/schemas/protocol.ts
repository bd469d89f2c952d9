import Type, { type Static } from 'typebox'
import { WorkflowId, withId } from './common.ts'

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

const RetryAfterMs = Type.Integer({
  minimum: 0,
  description: 'With `RATE_LIMITED`: milliseconds to wait before trying again.',
  examples: [1500],
})

const ErrorMessage = Type.String({
  description: 'Human-readable reason; never the server\'s internals.',
  examples: ['Not allowed to follow this workflow'],
})

/** Every refusal but `RATE_LIMITED`: a code and a message. */
const RefusalDetails = Type.Object(
  {
    code: Type.Enum(
      CLIENT_ERROR_CODES.filter((code): code is Exclude<ClientErrorCode, 'RATE_LIMITED'> => code !== 'RATE_LIMITED'),
      {
        description: 'Why: `INVALID_REQUEST`, `FORBIDDEN`, `TOO_MANY_SUBSCRIPTIONS`, `AUTH_INVALID` or `INTERNAL`.',
        examples: ['FORBIDDEN'],
      },
    ),
    message: ErrorMessage,
  },
  {
    additionalProperties: false,
    description: 'What went wrong.',
    examples: [{ code: 'FORBIDDEN', message: 'Not allowed to follow this workflow' }],
  },
)

/** `RATE_LIMITED` always says how long to wait. */
const RateLimitedDetails = Type.Object(
  {
    code: Type.Literal('RATE_LIMITED', { description: 'Over the message rate limit.' }),
    message: ErrorMessage,
    retryAfterMs: RetryAfterMs,
  },
  {
    additionalProperties: false,
    description: 'Too many messages: wait `retryAfterMs` before the next one.',
    examples: [{ code: 'RATE_LIMITED', message: 'Too many requests, slow down', retryAfterMs: 1500 }],
  },
)

/**
 * A refused request. `error` is a union on `code`: where `code` is `'RATE_LIMITED'`,
 * `retryAfterMs` is a number; no other code carries it.
 */
export const ErrorAck = withId('AgentErrorAck', Type.Object(
  {
    ok: Type.Literal(false, { description: 'The request was refused.' }),
    error: Type.Union([RefusalDetails, RateLimitedDetails], {
      description: 'What went wrong, told apart by `code`.',
      examples: [
        { code: 'FORBIDDEN', message: 'Not allowed to follow this workflow' },
        { code: 'RATE_LIMITED', message: 'Too many requests, slow down', retryAfterMs: 1500 },
      ],
    }),
  },
  {
    description: 'Acknowledgement of a refused client request.',
    additionalProperties: false,
    examples: [
      { ok: false, error: { code: 'FORBIDDEN', message: 'Not allowed to follow this workflow' } },
      { ok: false, error: { code: 'RATE_LIMITED', message: 'Too many requests, slow down', retryAfterMs: 1500 } },
    ],
  },
))
export type ErrorAck = Static<typeof ErrorAck>

export const SubscribeRequest = withId('AgentSubscribeRequest', Type.Object(
  {
    workflowId: WorkflowId,
    afterSeq: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Replay every recorded event with a greater `seq` first. Without it the subscription is live only.',
        examples: [41],
      }),
    ),
    epoch: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'The `epoch` of the last ack this client had; where it differs, the whole buffer is replayed.',
        examples: ['k3J9x0aQ'],
      }),
    ),
    compact: Type.Optional(
      Type.Boolean({
        description:
          'Shorten the replay of streamed messages: deltas of a message whose final event is replayed too are left out, ' +
          'and the deltas of a message still streaming are merged into one. Live events are never compacted.',
        examples: [true],
      }),
    ),
  },
  {
    description: 'Payload of `agent:subscribe`.',
    additionalProperties: false,
    examples: [
      { workflowId: 'wf-6f1c2d9e', afterSeq: 41, epoch: 'k3J9x0aQ' },
      { workflowId: 'wf-6f1c2d9e', afterSeq: 0, compact: true },
      { workflowId: 'wf-6f1c2d9e' },
    ],
  },
))
export type SubscribeRequest = Static<typeof SubscribeRequest>

const SubscribeOk = Type.Object(
  {
    ok: Type.Literal(true, { description: 'The socket now follows the workflow.' }),
    workflowId: WorkflowId,
    epoch: Type.String({
      description: 'Current life of the workflow buffer; send it back on resubscribe.',
      examples: ['k3J9x0aQ'],
    }),
    lastSeq: Type.Integer({
      minimum: 0,
      description: 'Highest `seq` of the workflow when the ack was sent; 0 when nothing was recorded.',
      examples: [42],
    }),
    replayed: Type.Integer({ minimum: 0, description: 'How many events were replayed before this ack.', examples: [1] }),
    truncated: Type.Boolean({
      description: 'Events after `afterSeq` had already left the buffer, or the epoch changed: reload your state.',
      examples: [false],
    }),
    compacted: Type.Optional(Type.Integer({
      minimum: 0,
      description: 'With `compact: true` only: how many replayed events were left out or merged into another.',
      examples: [37],
    })),
  },
  {
    additionalProperties: false,
    description: 'Acknowledgement of an accepted `agent:subscribe`.',
    examples: [{ ok: true, workflowId: 'wf-6f1c2d9e', epoch: 'k3J9x0aQ', lastSeq: 42, replayed: 1, truncated: false }],
  },
)

export const SubscribeAck = withId('AgentSubscribeAck', Type.Union([SubscribeOk, ErrorAck], {
  description: 'Acknowledgement of `agent:subscribe`.',
  examples: [
    { ok: true, workflowId: 'wf-6f1c2d9e', epoch: 'k3J9x0aQ', lastSeq: 42, replayed: 1, truncated: false },
    { ok: false, error: { code: 'TOO_MANY_SUBSCRIPTIONS', message: 'At most 100 workflows per socket' } },
  ],
}))
export type SubscribeAck = Static<typeof SubscribeAck>

export const UnsubscribeRequest = withId('AgentUnsubscribeRequest', Type.Object(
  { workflowId: WorkflowId },
  {
    description: 'Payload of `agent:unsubscribe`.',
    additionalProperties: false,
    examples: [{ workflowId: 'wf-6f1c2d9e' }],
  },
))
export type UnsubscribeRequest = Static<typeof UnsubscribeRequest>

const UnsubscribeOk = Type.Object(
  { ok: Type.Literal(true, { description: 'The socket no longer follows the workflow.' }) },
  { additionalProperties: false, description: 'Acknowledgement of an accepted `agent:unsubscribe`.', examples: [{ ok: true }] },
)

export const UnsubscribeAck = withId('AgentUnsubscribeAck', Type.Union([UnsubscribeOk, ErrorAck], {
  description: 'Acknowledgement of `agent:unsubscribe`.',
  examples: [{ ok: true }, { ok: false, error: { code: 'INVALID_REQUEST', message: 'workflowId must match ^[A-Za-z0-9._:-]{1,128}$' } }],
}))
export type UnsubscribeAck = Static<typeof UnsubscribeAck>

export const RefreshRequest = withId('AgentRefreshRequest', Type.Object(
  {
    token: Type.String({
      minLength: 1,
      description: 'A newer JWT for the same user.',
      examples: ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTgwMDAwMDAwMH0.signature'],
    }),
  },
  {
    description: 'Payload of `auth:refresh`: replaces the token of a connected socket before it expires.',
    additionalProperties: false,
    examples: [{ token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSIsImV4cCI6MTgwMDAwMDAwMH0.signature' }],
  },
))
export type RefreshRequest = Static<typeof RefreshRequest>

const RefreshOk = Type.Object(
  {
    ok: Type.Literal(true, { description: 'The socket now runs on the new token.' }),
    expiresAt: Type.String({
      description: 'ISO 8601 time at which the new token expires.',
      examples: ['2026-01-01T13:00:00.000Z'],
    }),
  },
  {
    additionalProperties: false,
    description: 'Acknowledgement of an accepted `auth:refresh`.',
    examples: [{ ok: true, expiresAt: '2026-01-01T13:00:00.000Z' }],
  },
)

export const RefreshAck = withId('AgentRefreshAck', Type.Union([RefreshOk, ErrorAck], {
  description: 'Acknowledgement of `auth:refresh`. A token of another user is refused with `FORBIDDEN`.',
  examples: [
    { ok: true, expiresAt: '2026-01-01T13:00:00.000Z' },
    { ok: false, error: { code: 'AUTH_INVALID', message: 'Invalid or expired token' } },
  ],
}))
export type RefreshAck = Static<typeof RefreshAck>

export const AuthExpiredNotice = withId('AgentAuthExpired', Type.Object(
  {
    code: Type.Literal('AUTH_EXPIRED', { description: 'Always `AUTH_EXPIRED`.' }),
    message: Type.String({ description: 'Human-readable reason.', examples: ['Token expired'] }),
  },
  {
    description: 'Payload of `auth:expired`, sent just before the server disconnects a socket whose token expired.',
    additionalProperties: false,
    examples: [{ code: 'AUTH_EXPIRED', message: 'Token expired' }],
  },
))
export type AuthExpiredNotice = Static<typeof AuthExpiredNotice>

export const ServerShutdownNotice = withId('AgentServerShutdown', Type.Object(
  { reconnect: Type.Literal(true, { description: 'Reconnect (and replay) once the server is back.' }) },
  {
    description: 'Payload of `server:shutdown`, sent when the server closes, before it disconnects the socket.',
    additionalProperties: false,
    examples: [{ reconnect: true }],
  },
))
export type ServerShutdownNotice = Static<typeof ServerShutdownNotice>

export const HandshakeError = withId('AgentHandshakeError', Type.Object(
  {
    message: Type.String({
      description: '`Authentication required`, `Invalid or expired token`, `Invalid token payload` or `Too many connection attempts`.',
      examples: ['Invalid or expired token'],
    }),
    data: Type.Object(
      {
        code: Type.Enum(HANDSHAKE_ERROR_CODES, {
          description: '`AUTH_REQUIRED`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_PAYLOAD` or `RATE_LIMITED`.',
          examples: ['AUTH_EXPIRED'],
        }),
        retryAfterMs: Type.Optional(RetryAfterMs),
      },
      { description: 'Machine-readable details.', examples: [{ code: 'AUTH_EXPIRED' }] },
    ),
  },
  {
    description: 'A refused handshake, as `socket.io-client` hands it to `connect_error` (`err.message`, `err.data`).',
    examples: [
      { message: 'Invalid or expired token', data: { code: 'AUTH_EXPIRED' } },
      { message: 'Too many connection attempts', data: { code: 'RATE_LIMITED', retryAfterMs: 30000 } },
    ],
  },
))
export type HandshakeError = Static<typeof HandshakeError>
