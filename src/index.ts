import { fastifyAgentEvents } from './plugin.ts'

export default fastifyAgentEvents
export { fastifyAgentEvents }
export type {
  AgentEventsDecorator,
  AgentEventInput,
  EmitTarget,
  EventsOptions,
  HistoryOptions,
  HistoryPage,
} from './emitters.ts'
export type { MessageEndData, MessageStream, MessageStreamOptions } from './streaming/message-streams.ts'
export type { PipeOptions, PipeResult } from './streaming/ai-sdk-pipe.ts'
export type { AgUiOptions } from './bridges/ag-ui.ts'
export type { SseStreamOptions } from './bridges/sse-responder.ts'
export type { UiMessageStreamOptions } from './bridges/reply-decorators.ts'
export type { UiMessageStreamMetadata } from './bridges/ui-message-stream.ts'
export type {
  AgentEventsOptions,
  AgentEventsUser,
  AuthorizeContext,
  AuthorizeHook,
  RequestAuthorizeContext,
  SocketAuthorizeContext,
  FormatUser,
  RateLimitRule,
  TokenSource,
} from './options.ts'
export type { TrustProxy } from './client-address.ts'
export { DEFAULTS } from './options.ts'
export {
  EventTooLargeError,
  ForbiddenError,
  HistoryResetError,
  InvalidOptionError,
  MissingPeerError,
  UnauthorizedError,
  InvalidEventError,
  MissingJwtError,
  StreamEndedError,
  type EventValidationIssue,
} from './errors.ts'
export type {
  RecordedEventWatcher,
  ReplayStore,
  ReplayRange,
  ReplayReadOptions,
  UnrecordedAgentEvent,
} from './replay/replay-store.ts'
export {
  redisReplayStore,
  REDIS_STORE_DEFAULTS,
  type RedisReplayStoreOptions,
} from './replay/redis-replay-store.ts'
export type {
  NodeRedisCommandClient,
  NodeRedisEvalOptions,
  NodeRedisSubscriberClient,
  RedisCommandClient,
  RedisSubscriberClient,
} from './replay/redis-client.ts'
export {
  memoryReplayStore,
  MEMORY_STORE_DEFAULTS,
  type MemoryReplayStore,
  type MemoryReplayStoreOptions,
  type MemoryReplayStoreStats,
} from './replay/memory-replay-store.ts'
export type { Duration } from './replay/duration.ts'
export * from './schemas/index.ts'
