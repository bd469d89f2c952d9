import type { FastifyInstance, FastifyReply } from 'fastify'
import { invalidEvent } from '../errors.ts'
import { agUiBridge, type AgUiOptions } from './ag-ui.ts'
import { respondWithSse, type SseBridgeContext, type SseStreamOptions } from './sse-responder.ts'
import { uiMessageStreamBridge } from './ui-message-sse.ts'

/** `reply.uiMessageStream(workflowId, options)`: the shared stream options, nothing of its own. */
export type UiMessageStreamOptions = SseStreamOptions

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Answer with the workflow's events as AG-UI events over server-sent events (`@ag-ui/core`
     * 1.x, encoded by `@ag-ui/encoder`, both optional peers): replay, then live, until the run's
     * result (`RUN_FINISHED`) or error (`RUN_ERROR`). The last message of each recorded event
     * has `id:` = its `seq`; a request with `Last-Event-ID` goes on after it. Answers 401 without
     * `request.user`, 403 when `authorize` denies. Resolves once the stream has ended.
     */
    agUi(workflowId: string, options?: AgUiOptions): Promise<FastifyReply>
    /**
     * Answer with the workflow's run as the AI SDK's UI message stream (what `useChat` reads; header
     * `x-vercel-ai-ui-message-stream: v1`): one assistant message whose id is the workflow id,
     * replayed then live, until the run's result (`finish`) or error (`error`, then `finish`), then
     * `data: [DONE]`. The last chunk of each recorded event has `id:` = its `seq`; a request with
     * `Last-Event-ID` goes on after it. Answers 401 without `request.user`, 403 when `authorize`
     * denies, and with `resume: true` 204 for a workflow with nothing recorded. Resolves once the
     * stream has ended.
     */
    uiMessageStream(workflowId: string, options?: UiMessageStreamOptions): Promise<FastifyReply>
  }
}

function optionsObject<T extends object>(options: T | undefined): T {
  if (options === undefined) return {} as T
  if (typeof options !== 'object' || options === null) throw invalidEvent([{ field: 'options', message: 'must be an object' }])
  return options
}

/** The agent UI routes' reply methods: each answers with one protocol over the shared SSE responder. */
export function decorateAgentUiReplies(fastify: FastifyInstance, context: SseBridgeContext): void {
  fastify.decorateReply('agUi', async function agUi(this: FastifyReply, workflowId: string, options?: AgUiOptions) {
    const checked = optionsObject(options)
    return respondWithSse(this, workflowId, checked, agUiBridge(workflowId, checked), context)
  })
  fastify.decorateReply('uiMessageStream', async function uiMessageStream(this: FastifyReply, workflowId: string, options?: UiMessageStreamOptions) {
    return respondWithSse(this, workflowId, optionsObject(options), uiMessageStreamBridge, context)
  })
}
