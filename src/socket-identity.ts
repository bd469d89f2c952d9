import type { Socket } from 'socket.io'
import type { AgentEventsUser } from './options.ts'

/** Who an authenticated socket belongs to; kept on `socket.data.agentEvents`. */
export interface SocketIdentity {
  user: AgentEventsUser
  userId: string
  /** Epoch ms at which the token expires, when it has `exp`. */
  expiresAt: number | undefined
}

export function identityOf(socket: Socket): SocketIdentity | undefined {
  return (socket.data as { agentEvents?: SocketIdentity } | undefined)?.agentEvents
}
