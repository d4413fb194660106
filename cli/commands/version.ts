// `daemonmesh version`: the version, the git commit it was built from and the Node runtime.
// The commit comes from build-info.json at the install root, written by the package build
// (scripts/package/build.sh); a checkout has none and says so.

import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { VERSION } from '../../core/version.js'

/** Where the package build writes build-info.json: next to package.json (dist/cli/commands/ is three levels down). */
const BUILD_INFO = new URL('../../../build-info.json', import.meta.url)

const BuildInfo = z.object({ commit: z.string().regex(/^[0-9a-f]{7,40}(-dirty)?$/, 'a git commit id') }).strict()

/** buildCommit reads the commit baked in at package time; undefined when there is no build-info.json (a checkout). */
export async function buildCommit(file: URL = BUILD_INFO): Promise<string | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  if (text.length > 4096) throw new Error(`${file.pathname}: larger than 4096 bytes`)
  const parsed = BuildInfo.safeParse(JSON.parse(text))
  if (!parsed.success) throw new Error(`${file.pathname}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`)
  return parsed.data.commit
}

/** runVersion prints three lines: `daemonmesh VERSION`, `commit: …`, `node: v…`. */
export async function runVersion(out: NodeJS.WritableStream): Promise<void> {
  const commit = (await buildCommit()) ?? 'unknown (not a package build)'
  out.write(`daemonmesh ${VERSION}\ncommit: ${commit}\nnode: ${process.version}\n`)
}
