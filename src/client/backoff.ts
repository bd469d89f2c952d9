const FIRST_DELAY_MS = 500
const MAX_DELAY_MS = 30_000

/**
 * How long to wait before retry number `failures` (0 for the first): doubling from 0.5 s up to
 * 30 s, with half of it random so that many clients cut at once do not come back at once.
 */
export function retryDelay(failures: number): number {
  const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** failures)
  return delay / 2 + Math.random() * (delay / 2)
}
