import { eventTooLarge, invalidEvent } from './errors.ts'
import type { ReplayStore, UnrecordedAgentEvent } from './replay/replay-store.ts'

/**
 * What recording adds to an event's JSON, `seq` digits apart: `,"seq":` and `,"id":"<uuid>"`.
 * The plugin's stores make `id` a UUID (36 characters).
 */
const RECORD_FIELDS_BYTES = ',"seq":,"id":""'.length + 36
/** Digits of the largest `seq` there can be (a safe integer). */
const MOST_SEQ_DIGITS = String(Number.MAX_SAFE_INTEGER).length

/** UTF-8 bytes of the event's JSON, as Socket.IO will write it. */
function jsonBytes(event: UnrecordedAgentEvent): number {
  let json: string
  try {
    json = JSON.stringify(event)
  } catch {
    throw invalidEvent([{ field: 'data', message: 'must be serializable as JSON (no cycles, no BigInt)' }])
  }
  return Buffer.byteLength(json)
}

export type EventSizeCheck = (event: UnrecordedAgentEvent, recorded: boolean) => Promise<void> | undefined

/**
 * Checks an event against `maxEventBytes` before it is recorded or sent: throws
 * `FST_AGENT_EVENTS_EVENT_TOO_LARGE`, or returns a promise for the rare event whose verdict
 * depends on the digits of the `seq` it will get. Such an event is within 15 bytes of the
 * limit; the store is asked for the workflow's last `seq` (the next one follows it, unless
 * another emit to the same workflow records first). Every other event is settled at once, by
 * measuring its JSON once.
 */
export function createEventSizeCheck(limit: number, store: ReplayStore): EventSizeCheck {
  async function checkWithNextSeq(workflowId: string, bytes: number): Promise<void> {
    let seqDigits = 1
    try {
      const { lastSeq } = await store.read(workflowId, { afterSeq: Number.MAX_SAFE_INTEGER, limit: 0 })
      seqDigits = String(lastSeq + 1).length
    } catch {
      // The append that follows meets the same store and reports its failure.
    }
    const size = bytes + RECORD_FIELDS_BYTES + seqDigits
    if (size > limit) throw eventTooLarge(size, limit)
  }

  return function checkEventSize(event: UnrecordedAgentEvent, recorded: boolean): Promise<void> | undefined {
    const bytes = jsonBytes(event)
    if (!recorded) {
      if (bytes > limit) throw eventTooLarge(bytes, limit)
      return undefined
    }
    if (bytes + RECORD_FIELDS_BYTES + MOST_SEQ_DIGITS <= limit) return undefined
    return checkWithNextSeq(event.workflowId, bytes)
  }
}
