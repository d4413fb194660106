// Running a command's writes a few at a time while printing in input order: `apply -f` and
// `delete -f` of a bundle send their objects to the agent concurrently (each is one signed
// write, independent of the others) but report them line by line as kubectl does.

/** WRITES_IN_FLIGHT is how many of a bundle's writes the CLI has in flight at once. */
export const WRITES_IN_FLIGHT = 8

/**
 * inOrder calls fn on every item with at most `limit` calls in flight and hands each result
 * to `each` in the items' order, as soon as it and all before it are done. The first error
 * stops new calls; it is thrown once the calls in flight have settled.
 */
export async function inOrder<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>, each: (result: R) => void): Promise<void> {
  const results: Promise<R>[] = []
  let next = 0
  let stopped = false
  const start = (): void => {
    if (stopped || next >= items.length) return
    const i = next++
    results[i] = fn(items[i] as T)
    results[i].then(start, () => undefined)
  }
  for (let i = 0; i < Math.max(1, limit); i++) start()
  for (let i = 0; i < items.length; i++) {
    try {
      each(await (results[i] as Promise<R>))
    } catch (err) {
      stopped = true
      await Promise.allSettled(results)
      throw err
    }
  }
}
