import { MissingPeerError, invalidEvent } from '../errors.ts'
import { AgUiProtocol, type AgUiEncode } from './ag-ui-protocol.ts'
import type { SseBridge, SseStreamOptions } from './sse-responder.ts'

/** `reply.agUi(workflowId, options)`. */
export interface AgUiOptions extends SseStreamOptions {
  /** `threadId` of `RUN_STARTED` and `RUN_FINISHED`: the `RunAgentInput`'s. Default: the workflow id. */
  threadId?: string
  /** `runId` of `RUN_STARTED` and `RUN_FINISHED`: the `RunAgentInput`'s. Default: the workflow id. */
  runId?: string
}

const AG_UI_PACKAGES = '@ag-ui/core and @ag-ui/encoder'
let encoderLoading: Promise<AgUiEncode> | undefined

/** `@ag-ui/encoder`, loaded when an AG-UI route first answers: an app that never does needs neither package. */
function loadEncoder(): Promise<AgUiEncode> {
  encoderLoading ??= import('@ag-ui/encoder').then(
    ({ EventEncoder }) => {
      const encoder = new EventEncoder()
      return (event) => encoder.encodeSSE(event as Parameters<typeof encoder.encodeSSE>[0])
    },
    () => {
      encoderLoading = undefined
      throw new MissingPeerError('reply.agUi', AG_UI_PACKAGES)
    },
  )
  return encoderLoading
}

function runId(value: unknown, field: 'threadId' | 'runId', fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0) throw invalidEvent([{ field, message: 'must be a non-empty string' }])
  return value
}

/** The AG-UI bridge of one response. */
export function agUiBridge(workflowId: string, options: AgUiOptions): SseBridge {
  const ids = {
    threadId: runId(options.threadId, 'threadId', workflowId),
    runId: runId(options.runId, 'runId', workflowId),
  }
  return {
    async protocol() {
      return new AgUiProtocol(ids, await loadEncoder())
    },
  }
}
