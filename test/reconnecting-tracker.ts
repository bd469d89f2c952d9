import type { Socket as ClientSocket } from 'socket.io-client'
import { AGENT_EVENTS } from './helpers.ts'

interface Seen {
  lastSeq: number
  epoch: string | undefined
  seqs: number[]
}

/**
 * A client as a browser tab behaves: on every (re)connection it subscribes to its workflows with
 * the last seq and epoch it saw, and checks that every event continues its sequence exactly.
 */
export class ReconnectingTracker {
  readonly seen = new Map<string, Seen>()
  readonly problems: string[] = []
  #socket: ClientSocket | undefined
  /** Ends the wait of a connection attempt that a newer reconnect replaced. */
  #abandon: (() => void) | undefined
  reconnections = 0

  constructor(
    readonly name: string,
    private readonly workflowIds: string[],
    private readonly open: () => ClientSocket,
  ) {
    for (const workflowId of workflowIds) this.seen.set(workflowId, { lastSeq: 0, epoch: undefined, seqs: [] })
  }

  /** Drop the current connection (as a reload would) and open a new one that resumes. */
  async reconnect(): Promise<void> {
    this.#socket?.disconnect()
    this.#abandon?.()
    this.reconnections++
    const socket = this.open()
    this.#socket = socket
    for (const event of AGENT_EVENTS) {
      socket.on(event, (payload: { workflowId: string; seq: number }) => {
        if (this.#socket !== socket) return
        const seen = this.seen.get(payload.workflowId)
        if (seen === undefined) return void this.problems.push(`${this.name}: unexpected workflow ${payload.workflowId}`)
        if (payload.seq !== seen.lastSeq + 1) {
          this.problems.push(`${this.name}/${payload.workflowId}: got seq ${payload.seq} after ${seen.lastSeq}`)
        }
        seen.lastSeq = Math.max(seen.lastSeq, payload.seq)
        seen.seqs.push(payload.seq)
      })
    }
    const connected = await new Promise<boolean>((resolve, reject) => {
      this.#abandon = () => resolve(false)
      socket.once('connect', () => resolve(true))
      socket.once('connect_error', reject)
      socket.connect()
    })
    if (!connected) return
    await Promise.all(
      this.workflowIds.map(async (workflowId) => {
        const seen = this.seen.get(workflowId) as Seen
        const request = { workflowId, afterSeq: seen.lastSeq, ...(seen.epoch === undefined ? {} : { epoch: seen.epoch }) }
        const ack = (await socket.timeout(10_000).emitWithAck('agent:subscribe', request)) as {
          ok: boolean
          epoch: string
          truncated: boolean
        }
        if (this.#socket !== socket) return
        if (!ack.ok) return void this.problems.push(`${this.name}/${workflowId}: subscribe refused ${JSON.stringify(ack)}`)
        if (ack.truncated) this.problems.push(`${this.name}/${workflowId}: truncated`)
        seen.epoch = ack.epoch
      }),
    ).catch((error: Error) => {
      // A subscription cut short by the next reconnect is expected; the next connection resumes.
      if (this.#socket === socket) this.problems.push(`${this.name}: ${error.message}`)
    })
  }

  close(): void {
    this.#socket?.disconnect()
    this.#abandon?.()
    this.#socket = undefined
  }
}
