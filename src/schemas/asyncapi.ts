import type { TSchema } from 'typebox'
import { AgentDeltaEvent, AgentErrorEvent, AgentResultEvent, AgentThoughtEvent, AgentToolCallEvent } from './events.ts'
import {
  AuthExpiredNotice,
  HandshakeError,
  RefreshAck,
  RefreshRequest,
  ServerShutdownNotice,
  SubscribeAck,
  SubscribeRequest,
  UnsubscribeAck,
  UnsubscribeRequest,
} from './protocol.ts'

// Built from the very schema objects that validate events and REST routes, so the document
// cannot drift from the code. This module imports schemas only: never fastify or socket.io.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

export interface AsyncApiServerOptions {
  /** Host and optional port, without scheme: `api.example.com` or `127.0.0.1:3000`. */
  host: string
  /** Default `'wss'`. Socket.IO also falls back to HTTP long-polling on the same path. */
  protocol?: 'ws' | 'wss'
  description?: string
}

export interface AsyncApiDocumentOptions {
  /** `info.title`. Default `'fastify-agent-events'`. */
  title?: string
  /** `info.version`: the version of your API. Default `'1.0.0'`. */
  version?: string
  /** `info.description`. Default: a summary of the protocol. */
  description?: string
  /** Servers by name. Default: none. */
  servers?: Record<string, AsyncApiServerOptions>
  /** The plugin's `path` option. Default `'/socket.io'`. */
  path?: string
  /** The plugin's `namespace` option, the channel's address. Default `'/'`. */
  namespace?: string
}

/** An AsyncAPI 3.0 document, plain JSON (ready for `JSON.stringify` or a YAML dumper). */
export interface AsyncApiDocument {
  asyncapi: '3.0.0'
  info: { title: string; version: string; description: string }
  defaultContentType: 'application/json'
  servers?: Record<string, JsonObject>
  channels: Record<string, JsonObject>
  operations: Record<string, JsonObject>
  components: {
    schemas: Record<string, JsonObject>
    messages: Record<string, JsonObject>
    securitySchemes: Record<string, JsonObject>
  }
}

const CHANNEL = 'agentEvents'
const SECURITY_SCHEME = 'jwt'

interface MessageSpec {
  /** Socket.IO event name. */
  name: string
  schema: TSchema
  summary: string
}

// Keys are the message ids used in the document (AsyncAPI ids may not contain `:`).
const MESSAGES = {
  agentThought: { name: 'agent:thought', schema: AgentThoughtEvent, summary: 'The agent is thinking.' },
  agentToolCall: { name: 'agent:tool_call', schema: AgentToolCallEvent, summary: 'The agent calls a tool, or a call changed status.' },
  agentResult: { name: 'agent:result', schema: AgentResultEvent, summary: 'The result of the workflow.' },
  agentError: { name: 'agent:error', schema: AgentErrorEvent, summary: 'The workflow hit an error.' },
  agentDelta: { name: 'agent:delta', schema: AgentDeltaEvent, summary: 'A piece of a message being streamed (token streaming).' },
  authExpired: { name: 'auth:expired', schema: AuthExpiredNotice, summary: 'The token expired; the server disconnects the socket.' },
  serverShutdown: { name: 'server:shutdown', schema: ServerShutdownNotice, summary: 'The server is closing; reconnect later.' },
  connectError: {
    name: 'connect_error',
    schema: HandshakeError,
    summary: 'The handshake was refused (Socket.IO CONNECT_ERROR packet).',
  },
  agentSubscribe: { name: 'agent:subscribe', schema: SubscribeRequest, summary: 'Follow a workflow, replaying what was missed.' },
  agentSubscribeAck: { name: 'agent:subscribe', schema: SubscribeAck, summary: 'Acknowledgement of `agent:subscribe`.' },
  agentUnsubscribe: { name: 'agent:unsubscribe', schema: UnsubscribeRequest, summary: 'Stop following a workflow.' },
  agentUnsubscribeAck: { name: 'agent:unsubscribe', schema: UnsubscribeAck, summary: 'Acknowledgement of `agent:unsubscribe`.' },
  authRefresh: { name: 'auth:refresh', schema: RefreshRequest, summary: 'Replace the socket\'s token before it expires.' },
  authRefreshAck: { name: 'auth:refresh', schema: RefreshAck, summary: 'Acknowledgement of `auth:refresh`.' },
} as const satisfies Record<string, MessageSpec>

type MessageId = keyof typeof MESSAGES

interface OperationSpec {
  action: 'send' | 'receive'
  message: MessageId
  reply?: MessageId
  description: string
}

// Operations from the server's point of view: it sends events and receives requests.
const OPERATIONS: Record<string, OperationSpec> = {
  sendAgentThought: { action: 'send', message: 'agentThought', description: 'To every authorized subscriber of the workflow, in `seq` order.' },
  sendAgentToolCall: { action: 'send', message: 'agentToolCall', description: 'To every authorized subscriber of the workflow, in `seq` order.' },
  sendAgentResult: { action: 'send', message: 'agentResult', description: 'To every authorized subscriber of the workflow, in `seq` order.' },
  sendAgentError: { action: 'send', message: 'agentError', description: 'To every authorized subscriber of the workflow, in `seq` order.' },
  sendAgentDelta: {
    action: 'send',
    message: 'agentDelta',
    description:
      'To every authorized subscriber of the workflow, in `seq` order: text written to a stream within one window, to append ' +
      'to the message named by `data.messageId`. The `agent:thought` or `agent:result` that carries the same `messageId` ends ' +
      'it with the whole text, so a client may ignore deltas and lose nothing.',
  },
  sendAuthExpired: { action: 'send', message: 'authExpired', description: 'Just before a socket whose token expired is disconnected.' },
  sendServerShutdown: { action: 'send', message: 'serverShutdown', description: 'When the server closes, before it disconnects the socket.' },
  refuseHandshake: {
    action: 'send',
    message: 'connectError',
    description: 'A handshake without a valid token, or over the connection rate limit, is refused with `connect_error`.',
  },
  receiveAgentSubscribe: {
    action: 'receive',
    message: 'agentSubscribe',
    reply: 'agentSubscribeAck',
    description: 'With `afterSeq`, recorded events with a greater `seq` are sent before the acknowledgement; live events follow with no gap and no duplicate. ' +
      'With `compact: true`, the replayed deltas of a message whose final event is replayed too are left out, and those of a message still streaming are merged into one.',
  },
  receiveAgentUnsubscribe: { action: 'receive', message: 'agentUnsubscribe', reply: 'agentUnsubscribeAck', description: 'Stop following a workflow.' },
  receiveAuthRefresh: {
    action: 'receive',
    message: 'authRefresh',
    reply: 'authRefreshAck',
    description: 'The new token must name the same user; it is verified like a handshake token.',
  },
}

const DEFAULT_DESCRIPTION =
  'Live progress of AI-agent workflows over Socket.IO. A client authenticates its handshake with a JWT, ' +
  'subscribes to workflows with `agent:subscribe` (every request takes an acknowledgement callback), ' +
  'and receives `agent:thought`, `agent:tool_call`, `agent:result`, `agent:error` and `agent:delta` events, numbered ' +
  'per workflow by `seq` and replayed after a reconnect.'

/** A JSON copy: drops TypeBox's non-enumerable markers and detaches the document from the schemas. */
function toJson(schema: TSchema): JsonObject {
  return JSON.parse(JSON.stringify(schema)) as JsonObject
}

function schemaName(spec: MessageSpec): string {
  const id = (spec.schema as { $id?: unknown }).$id
  if (typeof id !== 'string') throw new TypeError(`schema of ${spec.name} has no $id`)
  return id
}

function ref(pointer: string): JsonObject {
  return { $ref: pointer }
}

/**
 * The whole protocol as an AsyncAPI 3.0 document, built from the package's own schemas: the events
 * the server sends, the requests it receives with their acknowledgements, and the JWT handshake.
 *
 * @example
 * app.get('/asyncapi.json', async () =>
 *   asyncapiDocument({ title: 'Agent events', version: '1.0.0', path: '/ws', servers: { production: { host: 'api.example.com' } } }))
 */
export function asyncapiDocument(options: AsyncApiDocumentOptions = {}): AsyncApiDocument {
  const path = options.path ?? '/socket.io'
  const security = [ref(`#/components/securitySchemes/${SECURITY_SCHEME}`)]

  const schemas: Record<string, JsonObject> = {}
  const messages: Record<string, JsonObject> = {}
  const channelMessages: JsonObject = {}
  for (const [id, spec] of Object.entries(MESSAGES) as [MessageId, MessageSpec][]) {
    const name = schemaName(spec)
    // An acknowledgement travels as the ACK packet of its request, under the request's name.
    const title = id.endsWith('Ack') ? `${spec.name} acknowledgement` : spec.name
    schemas[name] = toJson(spec.schema)
    const examples = ((spec.schema as { examples?: unknown[] }).examples ?? []).map((example) => ({
      name: title.replace(/\W+/g, '-'),
      payload: JSON.parse(JSON.stringify(example)) as JsonValue,
    }))
    messages[id] = {
      name: spec.name,
      title,
      summary: spec.summary,
      contentType: 'application/json',
      payload: ref(`#/components/schemas/${name}`),
      examples,
    }
    channelMessages[id] = ref(`#/components/messages/${id}`)
  }

  const operations: Record<string, JsonObject> = {}
  for (const [id, spec] of Object.entries(OPERATIONS)) {
    const operation: JsonObject = {
      action: spec.action,
      channel: ref(`#/channels/${CHANNEL}`),
      summary: MESSAGES[spec.message].summary,
      description: spec.description,
      security,
      messages: [ref(`#/channels/${CHANNEL}/messages/${spec.message}`)],
    }
    if (spec.reply !== undefined) {
      operation.reply = {
        channel: ref(`#/channels/${CHANNEL}`),
        messages: [ref(`#/channels/${CHANNEL}/messages/${spec.reply}`)],
      }
    }
    operations[id] = operation
  }

  const document: AsyncApiDocument = {
    asyncapi: '3.0.0',
    info: {
      title: options.title ?? 'fastify-agent-events',
      version: options.version ?? '1.0.0',
      description: options.description ?? DEFAULT_DESCRIPTION,
    },
    defaultContentType: 'application/json',
    channels: {
      [CHANNEL]: {
        address: options.namespace ?? '/',
        title: 'Agent events',
        description: 'The Socket.IO namespace that the plugin owns; every event and request travels on it.',
        messages: channelMessages,
      },
    },
    operations,
    components: {
      schemas,
      messages,
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'The app\'s own @fastify/jwt token, sent in the handshake as `auth: { token }` or as ' +
            '`Authorization: Bearer <token>` (or a cookie when configured), never in the query string.',
        },
      },
    },
  }
  if (options.servers !== undefined) {
    document.servers = Object.fromEntries(
      Object.entries(options.servers).map(([name, server]) => {
        const entry: JsonObject = { host: server.host, protocol: server.protocol ?? 'wss', pathname: path, security }
        if (server.description !== undefined) entry.description = server.description
        return [name, entry]
      }),
    )
  }
  return document
}
