import type { FastifyBaseLogger } from 'fastify'
import type { AuthorizeContext, AuthorizeHook } from './options.ts'

/**
 * Ask the app's `authorize` hook, failing closed: a throw, a rejection, a non-`true` answer or
 * an answer slower than `timeoutMs` denies. The cause is logged on the server only.
 */
export async function isAuthorized(
  hook: AuthorizeHook | undefined,
  context: AuthorizeContext,
  timeoutMs: number,
  log: FastifyBaseLogger,
): Promise<boolean> {
  if (hook === undefined) return true
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  try {
    const answer = await Promise.race([Promise.resolve().then(() => hook(context)), timeout])
    if (answer === 'timeout') {
      log.warn({ workflowId: context.workflowId, userId: context.userId, timeoutMs }, 'authorize timed out: denied')
      return false
    }
    return answer === true
  } catch (error) {
    log.error({ err: error, workflowId: context.workflowId, userId: context.userId }, 'authorize failed: denied')
    return false
  } finally {
    clearTimeout(timer)
  }
}
