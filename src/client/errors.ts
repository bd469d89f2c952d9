/**
 * A refusal that the client does not retry (a subscribe refused with `FORBIDDEN`,
 * `TOO_MANY_SUBSCRIPTIONS` or `INVALID_REQUEST`), a handshake or refresh refusal reported while
 * the client retries, or bad input to the client itself. `code` is the server's code
 * (`FORBIDDEN`, `AUTH_EXPIRED`…) or `FST_AGENT_EVENTS_INVALID_WORKFLOW_ID`.
 */
export class AgentEventsClientError extends Error {
  readonly code: string

  constructor(code: string, message: string) {
    super(message)
    this.name = 'AgentEventsClientError'
    this.code = code
  }
}
