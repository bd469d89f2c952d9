import createError from '@fastify/error'

// One catalogue of the plugin's own error codes. They are created at module level (not inside
// the plugin function) so that users can import them and test `err instanceof` or `err.code`.

/** A registration option is missing its mark; the message names the option. */
export const InvalidOptionError = createError<'FST_AGENT_EVENTS_INVALID_OPTION', 500, [option: string, reason: string]>(
  'FST_AGENT_EVENTS_INVALID_OPTION',
  'Invalid fastify-agent-events option "%s": %s',
  500,
  TypeError,
)

/** `@fastify/jwt` was not registered before the plugin. */
export const MissingJwtError = createError<'FST_AGENT_EVENTS_MISSING_JWT', 500, []>(
  'FST_AGENT_EVENTS_MISSING_JWT',
  'fastify-agent-events needs @fastify/jwt: register it (with the same secret as your REST routes) before this plugin',
  500,
)

/** An emitted event does not match its schema; `validation` lists each offending field. */
export const InvalidEventError = createError<'FST_AGENT_EVENTS_INVALID_EVENT', 400, [issues: string]>(
  'FST_AGENT_EVENTS_INVALID_EVENT',
  'Invalid agent event: %s',
  400,
  TypeError,
)

/** Shape of one entry of `InvalidEventError#validation`. */
export interface EventValidationIssue {
  /** JSON pointer of the offending field, from the event's root: `/data/tool_name`. */
  field: string
  message: string
}

/** An `InvalidEventError` whose message and `validation` list every offending field. */
export function invalidEvent(issues: EventValidationIssue[]): Error & { validation: EventValidationIssue[] } {
  const error = new InvalidEventError(issues.map((issue) => `${issue.field} ${issue.message}`).join('; '))
  return Object.assign(error, { validation: issues })
}

/**
 * An emitted event is larger than `maxEventBytes` (UTF-8 bytes of its JSON as sent, `seq` and `id`
 * included); `size` and `limit` say by how much. Nothing was recorded or sent.
 */
export const EventTooLargeError = createError<'FST_AGENT_EVENTS_EVENT_TOO_LARGE', 413, [size: number, limit: number]>(
  'FST_AGENT_EVENTS_EVENT_TOO_LARGE',
  'Agent event too large: %s bytes as sent, over maxEventBytes (%s)',
  413,
  RangeError,
)

/** An `EventTooLargeError` with its `size` and `limit` as numbers. */
export function eventTooLarge(size: number, limit: number): Error & { size: number; limit: number } {
  return Object.assign(new EventTooLargeError(size, limit), { size, limit })
}

/**
 * A message stream was written to, ended or aborted after it had ended (by `end`, `abort`, or
 * `fastify.close()`). Nothing was recorded.
 */
export const StreamEndedError = createError<'FST_AGENT_EVENTS_STREAM_ENDED', 409, [messageId: string, how: string]>(
  'FST_AGENT_EVENTS_STREAM_ENDED',
  'Message stream %s has already ended (%s): nothing more can be written to it',
  409,
)

/**
 * The workflow's buffer started a new life (its store restarted or forgot it) after the events a
 * reader was given, or the `afterSeq` it asked for is past the last event of the current life:
 * `seq` restarted at 1, so the reader cannot go on where it was. Read the workflow again from the
 * start, or ask the run's owner.
 */
export const HistoryResetError = createError<'FST_AGENT_EVENTS_HISTORY_RESET', 409, [workflowId: string, afterSeq: number]>(
  'FST_AGENT_EVENTS_HISTORY_RESET',
  'The events of workflow "%s" after seq %s are gone: its buffer started a new life and seq restarted at 1',
  409,
)

/** An agent UI route was answered without an authenticated `request.user`. */
export const UnauthorizedError = createError<'FST_AGENT_EVENTS_UNAUTHORIZED', 401, [reason: string]>(
  'FST_AGENT_EVENTS_UNAUTHORIZED',
  'Not authenticated: %s',
  401,
)

/** The plugin's `authorize` denied the user this workflow on an agent UI route. */
export const ForbiddenError = createError<'FST_AGENT_EVENTS_FORBIDDEN', 403, []>(
  'FST_AGENT_EVENTS_FORBIDDEN',
  'Not allowed to follow this workflow',
  403,
)

/** A bridge was used without the optional peer dependency that speaks its protocol. */
export const MissingPeerError = createError<'FST_AGENT_EVENTS_MISSING_PEER', 500, [feature: string, packages: string]>(
  'FST_AGENT_EVENTS_MISSING_PEER',
  '%s needs the optional peer dependencies %s: install them next to fastify-agent-events',
  500,
)
