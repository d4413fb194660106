// The previous release's amd64 package, built from git: the commit named in
// test/fixtures/previous-release.json (also tagged v0.1.0, but a clone may lack tags) is
// checked out in a temporary git worktree, compiled, and packaged by its own
// scripts/package/build.sh. The .deb is cached (DAEMONMESH_PKG_CACHE, as the package build's
// npm tarballs), so only the first run pays for it. Tests only.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { access, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual, promisify } from 'node:util'
import { repoPath } from './fixtures.js'

const run = promisify(execFile)

export interface PreviousRelease {
  version: string
  commit: string
  /** The amd64 package of that commit. */
  deb: string
}

/** lockDependencies is a lockfile without this project's own version: what decides whether node_modules can be shared. */
async function lockDependencies(path: string): Promise<unknown> {
  const lock = JSON.parse(await readFile(path, 'utf8')) as { version?: string; packages: Record<string, { version?: string }> }
  delete lock.version
  delete lock.packages['']?.version
  return lock
}

/** previousRelease returns the previous release's amd64 package, building it from git on the first call. */
export async function previousRelease(): Promise<PreviousRelease> {
  const rel = JSON.parse(await readFile(repoPath('test/fixtures/previous-release.json'), 'utf8')) as { version: string; commit: string }
  assert.match(rel.commit, /^[0-9a-f]{40}$/)
  const cache = process.env.DAEMONMESH_PKG_CACHE ?? '/tmp/daemonmesh-pkg-cache'
  const deb = join(cache, `daemonmesh_${rel.version}_${rel.commit.slice(0, 12)}_amd64.deb`)
  if (await access(deb).then(() => true, () => false)) return { ...rel, deb }

  const repo = repoPath('')
  await run('git', ['cat-file', '-e', `${rel.commit}^{commit}`], { cwd: repo }).catch(() => {
    throw new Error(`the previous release ${rel.version} (commit ${rel.commit}) is not in this clone: fetch it (git fetch --unshallow, or git fetch origin ${rel.commit})`)
  })
  const wt = await mkdtemp(join(tmpdir(), 'dm-prev-'))
  const out = await mkdtemp(join(tmpdir(), 'dm-prev-out-'))
  await run('git', ['worktree', 'add', '--detach', '--force', wt, rel.commit], { cwd: repo })
  try {
    // The same dependencies: share the checkout's node_modules; else install the release's own.
    if (isDeepStrictEqual(await lockDependencies(join(wt, 'package-lock.json')), await lockDependencies(repoPath('package-lock.json')))) {
      await symlink(repoPath('node_modules'), join(wt, 'node_modules'))
    } else {
      await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: wt, maxBuffer: 1 << 24 })
    }
    // The shipped code only (no tests): quicker, and all the package holds.
    await writeFile(join(wt, 'tsconfig.release.json'), JSON.stringify({ extends: './tsconfig.json', include: ['core/**/*.ts', 'agent/**/*.ts', 'cli/**/*.ts'] }))
    await run(repoPath('node_modules/.bin/tsc'), ['-p', 'tsconfig.release.json'], { cwd: wt })
    await run('bash', [join(wt, 'scripts/package/build.sh'), '--skip-tsc', '--arch', 'amd64'], { cwd: wt, env: { ...process.env, DAEMONMESH_PKG_OUT: out, DAEMONMESH_PKG_CACHE: cache }, maxBuffer: 1 << 24 })
    await rename(join(out, `daemonmesh_${rel.version}_amd64.deb`), deb)
  } finally {
    await run('git', ['worktree', 'remove', '--force', wt], { cwd: repo }).catch(() => undefined)
    await rm(wt, { recursive: true, force: true })
    await rm(out, { recursive: true, force: true })
  }
  return { ...rel, deb }
}
