import { Compile } from 'typebox/compile'
import type { Static, TSchema } from 'typebox'
import type { ClientErrorCode, ErrorAck } from './schemas/index.ts'

export type Ack = (reply: unknown) => void

interface CompiledCheck {
  Check(value: unknown): boolean
}

/** Compile a request schema once; the result tells whether a payload may be handled. */
export function compileRequestCheck<Schema extends TSchema>(schema: Schema): (payload: unknown) => payload is Static<Schema> {
  const validator = Compile(schema) as unknown as CompiledCheck
  return (payload): payload is Static<Schema> => validator.Check(payload)
}

/** A refused request's acknowledgement; `RATE_LIMITED` alone carries `retryAfterMs`, and always does. */
export function errorAck(code: 'RATE_LIMITED', message: string, extra: { retryAfterMs: number }): ErrorAck
export function errorAck(code: Exclude<ClientErrorCode, 'RATE_LIMITED'>, message: string): ErrorAck
export function errorAck(code: ClientErrorCode, message: string, extra: { retryAfterMs?: number } = {}): ErrorAck {
  return { ok: false, error: { code, message, ...extra } } as ErrorAck
}

/**
 * Split Socket.IO listener arguments into the payload and the acknowledgement callback. A client
 * may omit either; a missing callback becomes a no-op so that no handler ever throws for it.
 */
export function splitArguments(args: unknown[]): { payload: unknown; ack: Ack } {
  const last = args.at(-1)
  const ack = typeof last === 'function' ? (last as Ack) : undefined
  return { payload: args.length > (ack === undefined ? 0 : 1) ? args[0] : undefined, ack: ack ?? (() => {}) }
}
