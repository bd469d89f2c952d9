/**
 * Events waiting for a `for await` loop: pushed as they arrive, pulled one at a time. Ends when
 * closed; fails with the error given to `fail`.
 */
export class EventQueue<T> implements AsyncIterator<T> {
  #items: T[] = []
  #waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void }[] = []
  #ended = false
  #error: unknown

  constructor(private readonly onReturn: () => void) {}

  push(item: T): void {
    const waiter = this.#waiting.shift()
    if (waiter) waiter.resolve({ value: item, done: false })
    else this.#items.push(item)
  }

  end(error?: unknown): void {
    this.#ended = true
    this.#error = error
    for (const waiter of this.#waiting.splice(0)) this.#settle(waiter)
  }

  next(): Promise<IteratorResult<T>> {
    return new Promise((resolve, reject) => {
      if (this.#items.length > 0) resolve({ value: this.#items.shift() as T, done: false })
      else if (this.#ended) this.#settle({ resolve, reject })
      else this.#waiting.push({ resolve, reject })
    })
  }

  /** A `for await` that breaks or throws lands here: the run stops. */
  return(): Promise<IteratorResult<T>> {
    this.onReturn()
    return Promise.resolve({ value: undefined, done: true })
  }

  #settle(waiter: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void }): void {
    if (this.#error) waiter.reject(this.#error)
    else waiter.resolve({ value: undefined, done: true })
  }
}
