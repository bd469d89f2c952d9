import type { FastifyInstance, FastifyReply } from 'fastify'
import { respondWithSse, type SseBridgeContext, type SseStreamOptions } from './sse-responder.ts'
import { uiMessageStreamBridge } from './ui-message-sse.ts'

/** `reply.uiMessageStream(workflowId, options)`: the shared stream options, nothing of its own. */
export type UiMessageStreamOptions = SseStreamOptions

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Answer with the workflow's run as the AI SDK's UI message stream (what `useChat` reads; header
     * `x-vercel-ai-ui-message-stream: v1`): one assistant message whose id is the workflow id,
     * replayed then live, until the run's result (`finish`) or error (`error`, then `finish`), then
     * `data: [DONE]`. `id:` is each event's `seq`; a request with `Last-Event-ID` goes on after it.
     * Answers 401 without `request.user`, 403 when `authorize` denies, and with `resume: true` 204
     * for a workflow with nothing recorded. Resolves once the stream has ended.
     */
    uiMessageStream(workflowId: string, options?: UiMessageStreamOptions): Promise<FastifyReply>
  }
}

export function decorateUiMessageStreamReply(fastify: FastifyInstance, context: SseBridgeContext): void {
  fastify.decorateReply('uiMessageStream', async function uiMessageStream(this: FastifyReply, workflowId: string, options?: UiMessageStreamOptions) {
    return respondWithSse(this, workflowId, options ?? {}, uiMessageStreamBridge, context)
  })
}
