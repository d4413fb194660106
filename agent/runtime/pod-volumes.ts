// The host side of a pod's volumes (core's PodVolume), made before its containers and
// removed with the pod: hostPath paths checked or created by kubelet's rules, the pod's
// emptyDir directories, and the files of downwardAPI volumes, written atomically in
// kubelet's layout (`..data` -> a timestamped directory, each top-level name a symlink
// through `..data`, so a reader never sees half a set and an update swaps one link). Every
// pod has one directory under the pod root; nothing else is written there. Files holding a
// Secret's data go under the memory root instead, which must be a tmpfs (checked before
// every write): no Secret is written to a disk. Docker volumes
// (the tmpfs of `medium: Memory`) are made by docker.ts; this file does not know Docker.

import { chmod, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, stat, statfs, symlink, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join } from 'node:path'
import type { PodPlan } from '../../core/container-spec.js'
import { MEMORY_DIR, type DockerMount, type PodVolume } from '../../core/volumes.js'
import type { PodFile } from '../../core/downward-api.js'

/** MountError is thrown when a volume cannot be set up (a hostPath type check failed, a file could not be made, a ConfigMap is missing): no container of the pod is created. */
export class MountError extends Error {
  override readonly name = 'MountError'
}

/** Modes kubelet gives what it creates: DirectoryOrCreate and unset-type paths 0755, FileOrCreate 0644, emptyDir 0777. */
const DIR_MODE = 0o755
const FILE_MODE = 0o644
const EMPTY_DIR_MODE = 0o777
const DATA_LINK = '..data'
/** Memory file systems (statfs f_type): tmpfs and ramfs. */
const MEMORY_FS = new Set([0x01021994, 0x858458f6])

type Kind = 'directory' | 'file' | 'socket' | 'char' | 'block' | 'other'

async function kindOf(path: string): Promise<Kind | undefined> {
  try {
    const s = await stat(path)
    if (s.isDirectory()) return 'directory'
    if (s.isFile()) return 'file'
    if (s.isSocket()) return 'socket'
    if (s.isCharacterDevice()) return 'char'
    if (s.isBlockDevice()) return 'block'
    return 'other'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** makeDir creates `path` and its missing parents; the directories it made get `mode` exactly (no umask). */
async function makeDir(path: string, mode: number): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode })
  if (first === undefined) return
  for (let p = path; p.length >= first.length; p = dirname(p)) await chmod(p, mode)
}

/**
 * checkHostPath applies a hostPath volume's type as kubelet does and returns the reason it
 * fails, if it does:
 *  1. DirectoryOrCreate: a missing path is made a directory (0755), then it must be one;
 *  2. FileOrCreate: a missing path is made an empty file (0644); its parent must exist (as
 *     in Kubernetes); then it must be a regular file;
 *  3. Directory, File, Socket, CharDevice, BlockDevice: it must exist and be one;
 *  4. no type: nothing is checked, and a missing path is made a directory (0755), as the
 *     container runtimes Kubernetes uses do for a bind mount.
 */
async function checkHostPath(v: Extract<PodVolume, { kind: 'hostPath' }>): Promise<string | undefined> {
  const kind = await kindOf(v.path)
  switch (v.type) {
    case '':
      if (kind === undefined) await makeDir(v.path, DIR_MODE)
      return undefined
    case 'DirectoryOrCreate':
      if (kind === undefined) {
        await makeDir(v.path, DIR_MODE)
        return undefined
      }
      return kind === 'directory' ? undefined : `hostPath type check failed: ${v.path} is not a directory`
    case 'Directory':
      return kind === 'directory' ? undefined : `hostPath type check failed: ${v.path} is not a directory`
    case 'FileOrCreate':
      if (kind === undefined) {
        try {
          const fh = await open(v.path, 'wx', FILE_MODE)
          await fh.chmod(FILE_MODE)
          await fh.close()
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return `open ${v.path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory (FileOrCreate does not create the parent directory)' : (err as Error).message}`
        }
        return undefined
      }
      return kind === 'file' ? undefined : `hostPath type check failed: ${v.path} is not a file`
    case 'File':
      return kind === 'file' ? undefined : `hostPath type check failed: ${v.path} is not a file`
    case 'Socket':
      return kind === 'socket' ? undefined : `hostPath type check failed: ${v.path} is not a socket file`
    case 'CharDevice':
      return kind === 'char' ? undefined : `hostPath type check failed: ${v.path} is not a character device`
    case 'BlockDevice':
      return kind === 'block' ? undefined : `hostPath type check failed: ${v.path} is not a block device`
  }
}

/** makeSubPaths creates the subPaths mounted from a volume when missing, with the volume root's mode (kubelet's rule). */
async function makeSubPaths(root: string, subPaths: readonly string[]): Promise<void> {
  if (subPaths.length === 0) return
  const mode = (await stat(root)).mode & 0o7777
  for (const p of subPaths) if ((await kindOf(join(root, p))) === undefined) await makeDir(join(root, p), mode)
}

/** sameFiles says whether the directory `..data` points to already holds exactly these files with these modes. */
async function sameFiles(dir: string, files: readonly PodFile[]): Promise<boolean> {
  try {
    const data = join(dir, DATA_LINK)
    for (const f of files) {
      if (!(await readFile(join(data, f.path))).equals(Buffer.from(f.content))) return false
      if (((await stat(join(data, f.path))).mode & 0o7777) !== f.mode) return false
    }
    const top = new Set(files.map((f) => f.path.split('/')[0]))
    return (await readdir(join(dir, DATA_LINK))).every((n) => top.has(n))
  } catch {
    return false
  }
}

/**
 * writeFiles makes `dir` hold exactly `files`, atomically for a reader: the new set is
 * written to a fresh timestamped directory, `..data` is swapped to it by a rename, the
 * top-level names link through `..data`, then the old set and stale links are removed.
 * Unchanged files leave the directory untouched.
 */
export async function writeFiles(dir: string, files: readonly PodFile[]): Promise<void> {
  await makeDir(dir, DIR_MODE)
  if (await sameFiles(dir, files)) return
  const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${process.hrtime.bigint() % 1_000_000n}`
  const fresh = join(dir, stamp)
  await mkdir(fresh, { mode: DIR_MODE })
  await chmod(fresh, DIR_MODE)
  for (const f of files) {
    await makeDir(dirname(join(fresh, f.path)), DIR_MODE)
    await writeFile(join(fresh, f.path), f.content, { mode: f.mode })
    await chmod(join(fresh, f.path), f.mode)
  }
  await rm(join(dir, `${DATA_LINK}_tmp`), { force: true })
  await symlink(stamp, join(dir, `${DATA_LINK}_tmp`))
  await rename(join(dir, `${DATA_LINK}_tmp`), join(dir, DATA_LINK))
  const top = new Set(files.map((f) => f.path.split('/')[0] ?? ''))
  for (const name of top) {
    const link = join(dir, name)
    const target = join(DATA_LINK, name)
    if ((await readlink(link).catch(() => undefined)) !== target) {
      await rm(link, { force: true, recursive: true })
      await symlink(target, link)
    }
  }
  for (const name of await readdir(dir)) {
    if (name === DATA_LINK || name === stamp) continue
    const isStale = name.startsWith('..') || (!top.has(name) && (await lstat(join(dir, name))).isSymbolicLink())
    if (isStale) await rm(join(dir, name), { recursive: true, force: true })
  }
}

/** PodVolumes makes and removes the host side of pods' volumes under two roots: the pod directory, and the memory directory for Secrets. */
export class PodVolumes {
  /**
   * root: the pod directory (DATADIR/pods); memoryRoot: a directory on a tmpfs (config
   * secretsDir) for files that hold a Secret's data. One directory per pod below each.
   */
  constructor(
    private readonly root: string,
    private readonly memoryRoot: string,
  ) {}

  /**
   * The write of each files directory in progress, by path. A pass that starts a pod and the
   * refresh that a store change also triggers can write one directory at once; two
   * writeFiles interleaved would each remove the other's new set as stale and leave `..data`
   * pointing at nothing. So writes of one directory run one after the other.
   */
  private readonly writing = new Map<string, Promise<void>>()

  /** writeVolumeFiles writes a files volume, after any write of the same directory in progress; one under MEMORY_DIR only when the memory root is a tmpfs. */
  private async writeVolumeFiles(v: Extract<PodVolume, { kind: 'files' }>): Promise<void> {
    if (v.dir.startsWith(MEMORY_DIR)) {
      await makeDir(this.memoryRoot, 0o700)
      const fs = await statfs(this.memoryRoot)
      if (!MEMORY_FS.has(fs.type)) throw new Error(`secretsDir ${this.memoryRoot} is not a tmpfs: Secret files are written only to memory`)
    }
    const dir = this.path(v.dir)
    const mine = (this.writing.get(dir) ?? Promise.resolve()).catch(() => undefined).then(() => writeFiles(dir, v.files))
    this.writing.set(dir, mine)
    try {
      await mine
    } finally {
      if (this.writing.get(dir) === mine) this.writing.delete(dir)
    }
  }

  /**
   * prepare makes every volume of the plan that lives on the host, in order; throws
   * MountError naming the volume when one cannot be set up. Idempotent: a pod that
   * already runs keeps its emptyDir contents.
   */
  async prepare(plan: PodPlan): Promise<void> {
    if (plan.missing.length > 0) throw new MountError(plan.missing.join('; '))
    await makeDir(join(this.root, plan.pod), DIR_MODE)
    for (const v of plan.volumes) {
      try {
        switch (v.kind) {
          case 'hostPath': {
            const why = await checkHostPath(v)
            if (why !== undefined) throw new MountError(why)
            if ((await kindOf(v.path)) === 'directory') await makeSubPaths(v.path, v.subPaths)
            break
          }
          case 'emptyDir':
            if ((await kindOf(this.path(v.dir))) === undefined) await makeDir(this.path(v.dir), EMPTY_DIR_MODE)
            await makeSubPaths(this.path(v.dir), v.subPaths)
            break
          case 'files':
            await this.writeVolumeFiles(v)
            break
          case 'tmpfs':
            break
        }
      } catch (err) {
        throw new MountError(`MountVolume.SetUp failed for volume "${v.name}": ${(err as Error).message}`)
      }
    }
  }

  /**
   * refresh rewrites the written files (configMap, downwardAPI, projected) of a pod that was
   * started, so a changed ConfigMap reaches them without a restart; a pod not started here,
   * or one whose ConfigMap is gone (kubelet keeps the last files), is left alone.
   */
  async refresh(plan: PodPlan): Promise<void> {
    if (plan.missing.length > 0 || (await kindOf(join(this.root, plan.pod))) !== 'directory') return
    for (const v of plan.volumes) if (v.kind === 'files') await this.writeVolumeFiles(v)
  }

  /** resolve returns the mounts with every relative bind Source made absolute under the pod root. */
  resolve(mounts: readonly DockerMount[] | undefined): DockerMount[] | undefined {
    return mounts?.map((m) => (m.Type === 'bind' && !isAbsolute(m.Source) ? { ...m, Source: this.path(m.Source) } : m))
  }

  /** release removes a pod's directories (its emptyDirs and written files, its Secret files); gone already is fine. */
  async release(pod: string): Promise<void> {
    if (pod === '' || pod.includes('/') || pod.startsWith('.')) return
    await rm(join(this.memoryRoot, pod), { recursive: true, force: true })
    await rm(join(this.root, pod), { recursive: true, force: true })
  }

  private path(relative: string): string {
    return relative.startsWith(MEMORY_DIR) ? join(this.memoryRoot, relative.slice(MEMORY_DIR.length)) : join(this.root, relative)
  }
}
