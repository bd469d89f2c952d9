import type { FastifyBaseLogger } from 'fastify'
import type { AuthorizeContext, AuthorizeHook } from './options.ts'
import { withTimeout } from './with-timeout.ts'

const TIMED_OUT = Symbol('timed out')

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
  try {
    const answer = await withTimeout(Promise.resolve().then(() => hook(context)), timeoutMs, () => TIMED_OUT)
    if (answer === TIMED_OUT) {
      log.warn({ workflowId: context.workflowId, userId: context.userId, timeoutMs }, 'authorize timed out: denied')
      return false
    }
    return answer === true
  } catch (error) {
    log.error({ err: error, workflowId: context.workflowId, userId: context.userId }, 'authorize failed: denied')
    return false
  }
}
