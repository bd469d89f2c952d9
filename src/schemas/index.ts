// Schemas and static types only: this entry point must never import socket.io or fastify,
// so that a browser bundle or a docs build can use it.
export { WORKFLOW_ID_PATTERN, WorkflowId, MESSAGE_ID_PATTERN, MessageId } from './common.ts'
export {
  ThoughtData,
  ToolCallData,
  ResultData,
  ErrorData,
  DeltaData,
  DELTA_KINDS,
  type DeltaKind,
  TOOL_CALL_STATUSES,
  type ToolCallStatus,
} from './event-data.ts'
export {
  AgentThoughtEvent,
  AgentToolCallEvent,
  AgentResultEvent,
  AgentErrorEvent,
  AgentDeltaEvent,
  AgentEvent,
  AGENT_EVENT_TYPES,
  WIRE_EVENT_NAMES,
  EVENT_SCHEMAS,
  type AgentEventType,
  type AgentEventOf,
  type RecordedAgentEvent,
} from './events.ts'
export {
  SubscribeRequest,
  SubscribeAck,
  UnsubscribeRequest,
  UnsubscribeAck,
  RefreshRequest,
  RefreshAck,
  ErrorAck,
  AuthExpiredNotice,
  ServerShutdownNotice,
  HandshakeError,
  CLIENT_ERROR_CODES,
  HANDSHAKE_ERROR_CODES,
  type ClientErrorCode,
  type HandshakeErrorCode,
} from './protocol.ts'
export type { ServerToClientEvents, ClientToServerEvents } from './event-maps.ts'
export {
  asyncapiDocument,
  type AsyncApiDocument,
  type AsyncApiDocumentOptions,
  type AsyncApiServerOptions,
  type JsonObject,
  type JsonValue,
} from './asyncapi.ts'
