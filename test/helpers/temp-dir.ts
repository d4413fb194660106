// tempDir: a fresh directory under the system's temporary directory, removed when the test
// (or, called at a file's top level, the file) that made it ends. Tests only.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'

/** tempDir makes `$TMPDIR/PREFIXxxxxxx` and removes it, with all it holds, after the current test. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  after(() => rm(dir, { recursive: true, force: true }))
  return dir
}
