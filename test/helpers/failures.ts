// Failures said where a CI log shows them. A suite's own line ("not ok N - suite") reads only
// "1 subtest failed", and the failing case's block can be far above it, out of a log's
// excerpt; a suite that calls surfaceFailures() ends with an error naming each failed case
// and its message, so the suite's block says what failed. It adds no failure: the suite
// fails anyway when a case did.

import { after, afterEach } from 'node:test'

/** surfaceFailures, called in a describe() body, makes the suite's closing error list its failed cases. */
export function surfaceFailures(): void {
  const failed: string[] = []
  afterEach((context) => {
    // Node 22 has both; the @types/node we use predates them.
    const t = context as unknown as { name: string; passed: boolean; error: (Error & { cause?: Error }) | null }
    if (t.passed) return
    const err = t.error ?? undefined
    failed.push(`${t.name}: ${(err?.cause ?? err)?.message ?? 'failed'}`)
  })
  after(() => {
    if (failed.length > 0) throw new Error(`failed cases: ${failed.join(' | ')}`)
  })
}
