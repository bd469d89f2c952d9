// Checking AG-UI streams with the protocol's own packages: `@ag-ui/core`'s event schemas and
// `@ag-ui/client`'s verifier of a run's sequence.
import { verifyEvents } from '@ag-ui/client'
import type { BaseEvent } from '@ag-ui/core'
import { EventSchemas } from '@ag-ui/core/schemas'
import { from, lastValueFrom, toArray } from 'rxjs'
import type { Test } from 'tap'
import type { SseMessageRead } from './sse-client.ts'

/** Every message's data as an AG-UI event, each checked by `@ag-ui/core`'s own schema. */
export function agUiEvents(t: Test, messages: readonly SseMessageRead[]): BaseEvent[] {
  return messages.map((message) => {
    const parsed = EventSchemas.safeParse(JSON.parse(message.data))
    if (!parsed.success) t.fail(`not an AG-UI event: ${message.data}`, { issues: parsed.error.issues })
    return JSON.parse(message.data) as BaseEvent
  })
}

/** Resolves when `@ag-ui/client`'s verifier accepts the whole sequence; rejects with its complaint. */
export async function verified(events: readonly BaseEvent[]): Promise<BaseEvent[]> {
  return lastValueFrom(from(events).pipe(verifyEvents(false), toArray()))
}

export const types = (events: readonly BaseEvent[]): string[] => events.map((event) => event.type)
