import type { Socket as ClientSocket } from 'socket.io-client'
import { AGENT_EVENTS } from './helpers.ts'

/** The events a client saw of one workflow within one epoch (one life of its buffer). */
export interface EpochSegment {
  epoch: string | undefined
  seqs: number[]
  /** This segment began with an ack that announced a new epoch with `truncated: true`. */
  flaggedReset: boolean
}

interface SubscribeAck {
  ok: boolean
  epoch: string
  lastSeq: number
  truncated: boolean
}

/**
 * A client as a browser tab behaves, across epochs: on every (re)connection, and whenever the
 * server closes its connection, it subscribes again with the last seq and epoch it saw. Events that
 * arrive before a subscription's ack (its replay) are set aside until the ack says which epoch they
 * belong to: the same one continues the current segment, a new one (which must come with
 * `truncated: true`) starts a new segment. `check` then finds any silent hole or duplicate.
 */
export class EpochTracker {
  readonly segments = new Map<string, EpochSegment[]>()
  readonly problems: string[] = []
  reconnections = 0
  /** Subscriptions refused with a retryable error (the store unreachable); each time the client came back later. */
  refusals = 0
  #socket: ClientSocket | undefined
  #abandon: (() => void) | undefined
  #closed = false

  constructor(
    readonly name: string,
    private readonly workflowIds: string[],
    private readonly open: () => ClientSocket,
  ) {
    for (const workflowId of workflowIds) this.segments.set(workflowId, [{ epoch: undefined, seqs: [], flaggedReset: false }])
  }

  current(workflowId: string): EpochSegment {
    return (this.segments.get(workflowId) as EpochSegment[]).at(-1) as EpochSegment
  }

  /** Every flagged reset, of every workflow. */
  get resets(): number {
    let count = 0
    for (const segments of this.segments.values()) count += segments.filter((segment) => segment.flaggedReset).length
    return count
  }

  /** Drop the current connection and open a new one that resumes. */
  async reconnect(): Promise<void> {
    if (this.#closed) return
    this.#socket?.disconnect()
    this.#abandon?.()
    this.reconnections++
    const socket = this.open()
    this.#socket = socket
    const beforeAck = new Map<string, number[]>(this.workflowIds.map((workflowId) => [workflowId, []]))
    for (const event of AGENT_EVENTS) {
      socket.on(event, (payload: { workflowId: string; seq: number }) => {
        if (this.#socket !== socket) return
        const early = beforeAck.get(payload.workflowId)
        if (early !== undefined) early.push(payload.seq)
        else this.current(payload.workflowId).seqs.push(payload.seq)
      })
    }
    socket.on('disconnect', (reason) => {
      // The server closed it (a node that found a new epoch, or a node going away): come back.
      if (this.#socket === socket && reason !== 'io client disconnect') void this.reconnect()
    })
    const connected = await new Promise<boolean>((resolve) => {
      this.#abandon = () => resolve(false)
      socket.once('connect', () => resolve(true))
      socket.once('connect_error', () => resolve(false))
      socket.connect()
    })
    if (!connected) {
      if (this.#socket === socket && !this.#closed) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        if (this.#socket === socket) return this.reconnect()
      }
      return
    }
    let refused = false
    await Promise.all(
      this.workflowIds.map(async (workflowId) => {
        const segment = this.current(workflowId)
        const afterSeq = segment.seqs.at(-1) ?? 0
        const request = { workflowId, afterSeq, ...(segment.epoch === undefined ? {} : { epoch: segment.epoch }) }
        const ack = (await socket.timeout(10_000).emitWithAck('agent:subscribe', request)) as SubscribeAck
        if (this.#socket !== socket) return
        const early = beforeAck.get(workflowId) as number[]
        beforeAck.delete(workflowId)
        if (!ack.ok) {
          // The server could not read the store (Redis away): try again soon, as a page would.
          if ((ack as unknown as { error?: { code?: string } }).error?.code === 'INTERNAL') {
            this.refusals++
            refused = true
            beforeAck.set(workflowId, early)
            return
          }
          return void this.problems.push(`${this.name}/${workflowId}: subscribe refused ${JSON.stringify(ack)}`)
        }
        if (segment.epoch !== undefined && ack.epoch !== segment.epoch) {
          if (!ack.truncated) this.problems.push(`${this.name}/${workflowId}: a new epoch without truncated: true`)
          ;(this.segments.get(workflowId) as EpochSegment[]).push({ epoch: ack.epoch, seqs: early, flaggedReset: true })
          return
        }
        if (ack.truncated) this.problems.push(`${this.name}/${workflowId}: truncated within one epoch (after ${afterSeq})`)
        segment.epoch = ack.epoch
        segment.seqs.push(...early)
      }),
    ).catch((error: Error) => {
      // A subscription cut short by the next reconnect is expected; the next connection resumes.
      if (this.#socket === socket) {
        this.problems.push(`${this.name}: ${error.message}`)
        void this.reconnect()
      }
    })
    if (refused && this.#socket === socket) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      if (this.#socket === socket) await this.reconnect()
    }
  }

  /**
   * What is wrong with what this client saw, given each workflow's final epoch and last seq: every
   * segment must be 1, 2, 3… without a hole or a repeat, and the last one must end at `lastSeq`.
   */
  check(final: Map<string, { epoch: string; lastSeq: number }>): string[] {
    const found = [...this.problems]
    for (const [workflowId, segments] of this.segments) {
      for (const [index, segment] of segments.entries()) {
        const wrong = segment.seqs.findIndex((seq, i) => seq !== i + 1)
        if (wrong !== -1) {
          found.push(`${this.name}/${workflowId} epoch #${index}: seq ${segment.seqs[wrong]} where ${wrong + 1} was due (after ${segment.seqs.slice(Math.max(0, wrong - 3), wrong).join(',')})`)
        }
      }
      const last = segments.at(-1) as EpochSegment
      const expected = final.get(workflowId)
      if (expected !== undefined && (last.epoch !== expected.epoch || last.seqs.length !== expected.lastSeq)) {
        found.push(`${this.name}/${workflowId}: ended with ${last.seqs.length} events of epoch ${String(last.epoch)}, the store holds ${expected.lastSeq} of ${expected.epoch}`)
      }
    }
    return found
  }

  /** Whether the last segment of every workflow reached these last seqs. */
  reached(final: Map<string, { epoch: string; lastSeq: number }>): boolean {
    return [...final].every(([workflowId, { epoch, lastSeq }]) => {
      const last = this.current(workflowId)
      return last.epoch === epoch && last.seqs.length >= lastSeq
    })
  }

  close(): void {
    this.#closed = true
    this.#socket?.disconnect()
    this.#abandon?.()
    this.#socket = undefined
  }
}
