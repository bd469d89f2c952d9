import type { AgentEvent } from '../schemas/index.ts'
import type { StreamedMessage } from './types.ts'

/**
 * Fold one event into the streamed messages: a delta appends its text, the final `thought` or
 * `result` of a message sets its whole text, an `error` of a message ends it. Entries are
 * replaced, never changed in place, so a renderer can compare them by reference.
 */
export function applyToMessages(messages: Map<string, StreamedMessage>, event: AgentEvent): void {
  const messageId = (event.data as { messageId?: unknown }).messageId
  if (typeof messageId !== 'string') return
  const known = messages.get(messageId)
  if (event.type === 'delta') {
    messages.set(messageId, { kind: event.data.kind, text: (known?.text ?? '') + event.data.text, done: false })
  } else if (event.type === 'thought' || event.type === 'result') {
    const content = event.data.content
    messages.set(messageId, { kind: event.type, text: typeof content === 'string' ? content : known?.text ?? '', done: true })
  } else if (event.type === 'error') {
    messages.set(messageId, { kind: known?.kind ?? 'result', text: known?.text ?? '', done: true, error: event.data })
  }
}
