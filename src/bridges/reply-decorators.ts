import type { FastifyInstance, FastifyReply } from 'fastify'
import { invalidEvent } from '../errors.ts'
import { agUiBridge, type AgUiOptions } from './ag-ui.ts'
import { respondWithSse, type SseBridgeContext } from './sse-responder.ts'

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
}
