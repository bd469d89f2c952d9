// One wait for conditions that build up over many events (counts, statuses), shared by the tests
// and by the README blocks' support.

/**
 * Wait until `predicate` holds, checking it once per turn of the event loop; fail after `ms`.
 * An async predicate is awaited at each check: its Promise is never taken for `true`. Anything
 * but a boolean (a predicate typed `any` that returns a Promise-like or an object) fails at once,
 * since its truth would say nothing.
 */
export async function until(predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const holds: unknown = await predicate()
    if (typeof holds !== 'boolean') throw new TypeError(`until() needs a predicate that gives a boolean, not ${holds === null ? 'null' : typeof holds}`)
    if (holds) return
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setImmediate(resolve))
  }
}
