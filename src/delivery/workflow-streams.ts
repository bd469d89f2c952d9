import type { RecordedAgentEvent } from '../schemas/index.ts'
import { type StreamContext, WorkflowStream } from './workflow-stream.ts'

/**
 * The streams of the workflows that somebody on this node follows. The store's watch hands every
 * recorded event here; a workflow nobody follows on this node has no stream and costs nothing.
 */
export class WorkflowStreams {
  readonly #streams = new Map<string, WorkflowStream>()

  constructor(private readonly context: StreamContext) {}

  /** The store's watch: one recorded event, from this node or another. */
  receive(event: RecordedAgentEvent, epoch: string): void {
    this.#streams.get(event.workflowId)?.receive(event, epoch)
  }

  /**
   * Read every followed workflow from the store again, after this node may have missed events
   * (its link to the other nodes was down). This also finds a store that came back empty.
   */
  resync(): void {
    for (const stream of this.#streams.values()) {
      if (stream.lastSeq !== undefined) void stream.repair()
    }
  }

  /** The stream of a workflow, made when a first subscriber comes. Pair with `release`. */
  acquire(workflowId: string): WorkflowStream {
    let stream = this.#streams.get(workflowId)
    if (stream === undefined) {
      stream = new WorkflowStream(workflowId, this.context)
      this.#streams.set(workflowId, stream)
    }
    return stream
  }

  /** A subscriber left the stream (or never made it in): forget the stream once nobody follows it. */
  release(stream: WorkflowStream): void {
    if (stream.followerCount > 0 || this.#streams.get(stream.workflowId) !== stream) return
    stream.close()
    this.#streams.delete(stream.workflowId)
  }

  close(): void {
    for (const stream of this.#streams.values()) stream.close()
    this.#streams.clear()
  }
}
