import type { AgentDeltaEvent, AgentErrorEvent, AgentResultEvent, AgentThoughtEvent, AgentToolCallEvent } from './events.ts'
import type {
  AuthExpiredNotice,
  RefreshAck,
  RefreshRequest,
  ServerShutdownNotice,
  SubscribeAck,
  SubscribeRequest,
  UnsubscribeAck,
  UnsubscribeRequest,
} from './protocol.ts'

/** Events the server sends, in the shape `socket.io-client`'s `io<ServerToClientEvents, …>()` expects. */
export interface ServerToClientEvents {
  'agent:thought': (event: AgentThoughtEvent) => void
  'agent:tool_call': (event: AgentToolCallEvent) => void
  'agent:result': (event: AgentResultEvent) => void
  'agent:error': (event: AgentErrorEvent) => void
  'agent:delta': (event: AgentDeltaEvent) => void
  'auth:expired': (notice: AuthExpiredNotice) => void
  'server:shutdown': (notice: ServerShutdownNotice) => void
}

/** Requests a client sends, each answered through its acknowledgement callback. */
export interface ClientToServerEvents {
  'agent:subscribe': (request: SubscribeRequest, ack: (reply: SubscribeAck) => void) => void
  'agent:unsubscribe': (request: UnsubscribeRequest, ack: (reply: UnsubscribeAck) => void) => void
  'auth:refresh': (request: RefreshRequest, ack: (reply: RefreshAck) => void) => void
}
