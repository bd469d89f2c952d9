import { parse } from '@lukeed/ms'

/** A duration as `@fastify/rate-limit` takes it: milliseconds, or text such as `'1 hour'`. */
export type Duration = number | string

/** Milliseconds of a duration, or `undefined` when it is not a positive, finite one. */
export function durationToMs(value: Duration): number | undefined {
  const ms = typeof value === 'number' ? value : parse(value)
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : undefined
}
