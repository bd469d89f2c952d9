export { createAgentEventsClient } from './client.ts'
export { AgentEventsClientError } from './errors.ts'
export type {
  AgentEventsClient,
  AgentEventsClientOptions,
  ClientEvents,
  ClientStatus,
  FollowOptions,
  PositionStorage,
  ResetInfo,
  RunEvents,
  RunStatus,
  StreamedMessage,
  WorkflowRun,
} from './types.ts'
export type { AgentEvent, AgentDeltaEvent, AgentErrorEvent, AgentResultEvent, AgentThoughtEvent, AgentToolCallEvent } from '../schemas/index.ts'
