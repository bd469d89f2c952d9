/** The longest delay `setTimeout` takes; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

export type Timer = ReturnType<typeof setTimeout>

/** Every pending timer of one client, so that `close()` leaves none behind (they would keep Node running). */
export class Timers {
  readonly #pending = new Set<Timer>()
  #stopped = false

  later(task: () => unknown, delay: number): Timer | undefined {
    if (this.#stopped) return undefined
    const timer = setTimeout(() => {
      this.#pending.delete(timer)
      task()
    }, Math.min(delay, MAX_TIMER_MS))
    this.#pending.add(timer)
    return timer
  }

  cancel(timer: Timer | undefined): void {
    if (timer === undefined) return
    clearTimeout(timer)
    this.#pending.delete(timer)
  }

  /** Clear every timer and refuse new ones. */
  stop(): void {
    this.#stopped = true
    for (const timer of this.#pending) clearTimeout(timer)
    this.#pending.clear()
  }
}
