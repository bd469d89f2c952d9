import type { AgentEventsClientOptions, PositionStorage } from './types.ts'

/** Where a workflow's delivery stopped: enough to resubscribe without a gap or a duplicate. */
export interface Position {
  lastSeq: number
  epoch?: string
}

const KEY_PREFIX = 'agent-events:'

/** The storage that the option names, or `undefined` when there is none (Node, or storage off). */
export function resolveStorage(option: AgentEventsClientOptions['storage']): PositionStorage | undefined {
  if (option === false) return undefined
  if (typeof option === 'object') return option
  try {
    // Reading `sessionStorage` itself throws where storage is blocked (sandboxed frames, some privacy modes).
    const scope = globalThis as { localStorage?: PositionStorage; sessionStorage?: PositionStorage }
    return option === 'local' ? scope.localStorage : scope.sessionStorage
  } catch {
    return undefined
  }
}

export function readPosition(storage: PositionStorage | undefined, workflowId: string): Position {
  try {
    const saved = JSON.parse(storage?.getItem(KEY_PREFIX + workflowId) ?? 'null') as Partial<Position> | null
    if (saved && Number.isSafeInteger(saved.lastSeq) && (saved.lastSeq as number) >= 0) {
      return typeof saved.epoch === 'string' ? { lastSeq: saved.lastSeq as number, epoch: saved.epoch } : { lastSeq: saved.lastSeq as number }
    }
  } catch {
    // A value that is not ours, or storage that refuses to be read: start from the beginning.
  }
  return { lastSeq: 0 }
}

export function writePosition(storage: PositionStorage | undefined, workflowId: string, position: Position | undefined): void {
  try {
    if (position) storage?.setItem(KEY_PREFIX + workflowId, JSON.stringify(position))
    else storage?.removeItem(KEY_PREFIX + workflowId)
  } catch {
    // A full or blocked storage costs the resume after a reload, never the live run.
  }
}
