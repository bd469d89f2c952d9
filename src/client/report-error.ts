/**
 * Call an app's callback so that its exception cannot stop the client: the events after it are
 * still handed out, and the exception is thrown again on its own (the page's `error` event,
 * Node's `uncaughtException`), where the app sees it.
 */
export function callApp<Args extends unknown[]>(callback: ((...args: Args) => void) | undefined, ...args: Args): void {
  try {
    callback?.(...args)
  } catch (error) {
    setTimeout(() => {
      throw error
    })
  }
}
