import type { ToolCallData } from '../schemas/index.ts'

/** Where one call stands, as the bridges need it. */
export interface ToolCallState {
  /** The call's id on the wire: its `tool_call_id`, or one made from the `seq` that opened it. */
  readonly id: string
  readonly toolName: string
  /** The `seq` of the event that opened the call. */
  readonly openedAt: number
  ended: boolean
}

const ENDED_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed'])

/**
 * Tells the tool calls of one workflow apart, from its recorded `tool_call` events in `seq` order:
 * the one rule of every bridge (AG-UI, the UI message stream), so that both name the same calls.
 *
 * - A call is its `tool_call_id` where the event has one, for the whole run: an update with that
 *   id after the call has ended is still that call, never a new one.
 * - Without it, a call is told apart by `tool_name` and order: `pending` always opens a new call;
 *   any other update goes to the oldest call of that name not yet `completed` or `failed`, and
 *   opens a new call where there is none. Such a call is forgotten once ended.
 * - A new call without `tool_call_id` gets `call-<seq>` as its id.
 * - A call ends with its `completed` or `failed` update; the bridges send nothing for an update
 *   that comes after (`endedBefore`): its result stands.
 *
 * Ids come from the events alone, so feeding the same events again gives the same ids.
 */
export class ToolCallIdentity {
  readonly #byId = new Map<string, ToolCallState>()
  /** Open calls without `tool_call_id`, oldest first, by tool name. */
  readonly #openUnnamed = new Map<string, ToolCallState[]>()

  /**
   * The call that this event updates, whether it opened it, and whether the call had ended before
   * it. A `completed` or `failed` update marks the call ended (its oldest-open place goes to the
   * next call of that name).
   */
  track(data: ToolCallData, seq: number): { call: ToolCallState; opened: boolean; endedBefore: boolean } {
    const found = this.peek(data)
    const call = found ?? this.#open(data, seq)
    const endedBefore = call.ended
    if (ENDED_STATUSES.has(data.status) && !call.ended) {
      call.ended = true
      if (data.tool_call_id === undefined) this.#dropUnnamed(call)
    }
    return { call, opened: found === undefined, endedBefore }
  }

  /** The call that this event would update, without tracking it; undefined where it opens one. */
  peek(data: ToolCallData): ToolCallState | undefined {
    if (data.tool_call_id !== undefined) return this.#byId.get(data.tool_call_id)
    if (data.status === 'pending') return undefined
    return this.#openUnnamed.get(data.tool_name)?.[0]
  }

  #open(data: ToolCallData, seq: number): ToolCallState {
    const call: ToolCallState = { id: data.tool_call_id ?? `call-${seq}`, toolName: data.tool_name, openedAt: seq, ended: false }
    if (data.tool_call_id !== undefined) {
      this.#byId.set(call.id, call)
    } else {
      const open = this.#openUnnamed.get(call.toolName)
      if (open === undefined) this.#openUnnamed.set(call.toolName, [call])
      else open.push(call)
    }
    return call
  }

  #dropUnnamed(call: ToolCallState): void {
    const open = this.#openUnnamed.get(call.toolName)
    if (open === undefined) return
    const index = open.indexOf(call)
    if (index >= 0) open.splice(index, 1)
    if (open.length === 0) this.#openUnnamed.delete(call.toolName)
  }
}
