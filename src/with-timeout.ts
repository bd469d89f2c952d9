/**
 * Settle with `work`, or with `onTimeout()` once `ms` have passed, whichever comes first. The
 * timer never outlives the race, and a `work` that loses it may still reject later without an
 * unhandled rejection: its failure was already answered by the timeout.
 *
 * `onTimeout` returns the value to settle with, or throws to reject.
 */
export async function withTimeout<T, Fallback = T>(
  work: Promise<T>,
  ms: number,
  onTimeout: () => Fallback,
): Promise<T | Fallback> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Fallback>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout())
      } catch (error) {
        reject(error)
      }
    }, ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
    work.catch(() => {})
  }
}
