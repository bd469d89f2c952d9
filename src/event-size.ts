import { eventTooLarge, invalidEvent } from './errors.ts'
import type { ReplayStore, UnrecordedAgentEvent } from './replay/replay-store.ts'

/**
 * What recording adds to an event's JSON, `seq` digits apart: `,"seq":` and `,"id":"<uuid>"`.
 * The plugin's stores make `id` a UUID (36 characters).
 */
const RECORD_FIELDS_BYTES = ',"seq":,"id":""'.length + 36
/** Digits of the largest `seq` there can be (a safe integer). */
const MOST_SEQ_DIGITS = String(Number.MAX_SAFE_INTEGER).length
/** The most that recording adds to an event's JSON, whatever its `seq`. */
export const RECORDED_FIELDS_BYTES_AT_MOST = RECORD_FIELDS_BYTES + MOST_SEQ_DIGITS

/** Nesting past which `jsonBytesAtMost` stops modelling and leaves the measure to `JSON.stringify`. */
const MODELLED_DEPTH = 32
/** The longest a JSON number can be (`-1.7976931348623157e+308`), with room to spare. */
const NUMBER_BYTES_AT_MOST = 25

/**
 * An upper bound of the UTF-8 bytes of `JSON.stringify(value)`, or `Infinity` once it passes
 * `budget`. Cheap: a string counts 6 bytes per UTF-16 unit (a `\uXXXX` escape, the most that one
 * unit can take), so no string is scanned, and nothing is built. Only plain objects, arrays and
 * primitives are modelled; anything else (a `toJSON`, a class instance, a boxed primitive, a
 * BigInt, deep nesting) gives `Infinity`, so that `JSON.stringify` itself measures it.
 */
export function jsonBytesAtMost(value: unknown, budget: number, depth = MODELLED_DEPTH): number {
  switch (typeof value) {
    case 'string':
      return 6 * value.length + 2
    case 'number':
      return NUMBER_BYTES_AT_MOST
    case 'boolean':
      return 5
    case 'undefined':
    case 'function':
    case 'symbol':
      // Left out of an object, `null` in an array.
      return 4
    case 'object': {
      if (value === null) return 4
      if (depth === 0) return Infinity
      let bytes = 2
      if (Array.isArray(value)) {
        for (const item of value as unknown[]) {
          bytes += 1 + jsonBytesAtMost(item, budget - bytes, depth - 1)
          if (bytes > budget) return Infinity
        }
        return bytes
      }
      const prototype: unknown = Object.getPrototypeOf(value)
      if (prototype !== Object.prototype && prototype !== null) return Infinity
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return Infinity
      for (const key of Object.keys(value)) {
        bytes += 6 * key.length + 4 + jsonBytesAtMost((value as Record<string, unknown>)[key], budget - bytes, depth - 1)
        if (bytes > budget) return Infinity
      }
      return bytes
    }
    default:
      return Infinity
  }
}

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
 * another emit to the same workflow records first). Every other event is settled at once: by a
 * cheap bound for most, by measuring its JSON for those that the bound cannot clear.
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
    // Most events are far below the limit: a bound proves it without building their JSON, which
    // Socket.IO builds anyway to send them.
    const room = recorded ? limit - RECORDED_FIELDS_BYTES_AT_MOST : limit
    if (jsonBytesAtMost(event, room) <= room) return undefined
    const bytes = jsonBytes(event)
    if (!recorded) {
      if (bytes > limit) throw eventTooLarge(bytes, limit)
      return undefined
    }
    if (bytes + RECORDED_FIELDS_BYTES_AT_MOST <= limit) return undefined
    return checkWithNextSeq(event.workflowId, bytes)
  }
}
