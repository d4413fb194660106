import assert from 'node:assert/strict'
import { lstat, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MountError, PodVolumes, writeFiles } from '../../../agent/runtime/pod-volumes.js'
import type { PodPlan } from '../../../core/container-spec.js'
import type { PodVolume } from '../../../core/volumes.js'
import { tempDir } from '../../helpers/temp-dir.js'

const plan = (volumes: PodVolume[], missing: string[] = []): PodPlan => ({ daemonSet: 'default.x', node: 'n1', revision: 'r1', pod: 'dm_default_x_r1_n1', uid: 'u', containers: [], init: [], volumes, unsupported: [], missing })

describe('pod volumes on the host', () => {
  it('hostPath types: created with kubelet\'s modes, checked, and a failed check names the volume and the path', async () => {
    const root = await tempDir('dm-pv-')
    const sock = join(root, 'agent.sock')
    const server = createServer().listen(sock)
    await new Promise((r) => server.once('listening', r))
    try {
      const pv = new PodVolumes(join(root, 'pods'), join(root, 'memory'))
      const ok: PodVolume[] = [
        { kind: 'hostPath', name: 'lock', path: join(root, 'xtables.lock'), type: 'FileOrCreate', subPaths: [] },
        { kind: 'hostPath', name: 'state', path: join(root, 'var/lib/x'), type: 'DirectoryOrCreate', subPaths: ['node/a'] },
        { kind: 'hostPath', name: 'any', path: join(root, 'untyped'), type: '', subPaths: [] },
        { kind: 'hostPath', name: 'sock', path: sock, type: 'Socket', subPaths: [] },
        { kind: 'hostPath', name: 'null', path: '/dev/null', type: 'CharDevice', subPaths: [] },
      ]
      await pv.prepare(plan(ok))
      assert.equal((await stat(join(root, 'xtables.lock'))).mode & 0o7777, 0o644)
      for (const d of ['var', 'var/lib', 'var/lib/x', 'untyped']) assert.equal((await stat(join(root, d))).mode & 0o7777, 0o755, d)
      assert.ok((await stat(join(root, 'var/lib/x/node/a'))).isDirectory())
      await pv.prepare(plan(ok)) // idempotent
      const fails: [PodVolume, RegExp][] = [
        [{ kind: 'hostPath', name: 'v', path: join(root, 'xtables.lock'), type: 'Directory', subPaths: [] }, /^MountVolume\.SetUp failed for volume "v": hostPath type check failed: .*xtables\.lock is not a directory$/],
        [{ kind: 'hostPath', name: 'v', path: join(root, 'untyped'), type: 'File', subPaths: [] }, /is not a file$/],
        [{ kind: 'hostPath', name: 'v', path: join(root, 'xtables.lock'), type: 'Socket', subPaths: [] }, /is not a socket file$/],
        [{ kind: 'hostPath', name: 'v', path: sock, type: 'BlockDevice', subPaths: [] }, /is not a block device$/],
        [{ kind: 'hostPath', name: 'v', path: join(root, 'missing'), type: 'CharDevice', subPaths: [] }, /is not a character device$/],
        [{ kind: 'hostPath', name: 'v', path: join(root, 'no/parent/f'), type: 'FileOrCreate', subPaths: [] }, /no such file or directory \(FileOrCreate does not create the parent directory\)$/],
      ]
      for (const [v, re] of fails) await assert.rejects(pv.prepare(plan([v])), (e: unknown) => e instanceof MountError && re.test(e.message))
      await assert.rejects(pv.prepare(plan([], ['configmap "c" not found'])), (e: unknown) => e instanceof MountError && e.message === 'configmap "c" not found')
    } finally {
      server.close()
    }
  })

  it('written files: kubelet\'s ..data layout, modes, an update swaps the set, stale names go', async () => {
    const dir = join(await tempDir('dm-pv-'), 'vol')
    await writeFiles(dir, [{ path: 'a', content: 'one', mode: 0o640 }, { path: 'sub/b', content: new Uint8Array([1, 2]), mode: 0o400 }])
    assert.equal(await readlink(join(dir, 'a')), join('..data', 'a'))
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), 'one')
    assert.equal((await stat(join(dir, 'a'))).mode & 0o7777, 0o640)
    assert.deepEqual([...(await readFile(join(dir, 'sub/b')))], [1, 2])
    const first = await readlink(join(dir, '..data'))
    await writeFiles(dir, [{ path: 'a', content: 'one', mode: 0o640 }, { path: 'sub/b', content: new Uint8Array([1, 2]), mode: 0o400 }])
    assert.equal(await readlink(join(dir, '..data')), first, 'the same files leave the directory untouched')
    await writeFiles(dir, [{ path: 'a', content: 'two', mode: 0o640 }])
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), 'two')
    assert.notEqual(await readlink(join(dir, '..data')), first)
    assert.deepEqual((await readdir(dir)).sort(), ['..data', await readlink(join(dir, '..data')), 'a'].sort(), 'the old set and the stale name are gone')
    assert.ok((await lstat(join(dir, 'a'))).isSymbolicLink())
  })

  it('a start and a refresh writing one directory at once leave its files whole', async () => {
    const root = await tempDir('dm-pv-')
    const pv = new PodVolumes(root, join(root, 'memory'))
    const files = (content: string): PodVolume => ({ kind: 'files', name: 'cfg', dir: 'dm_default_x_r1_n1/cfg', files: [{ path: 'greeting', content, mode: 0o644 }, { path: 'sub/other', content: `${content}!`, mode: 0o600 }] })
    // A pass starting the pod and the refresh its ConfigMap's arrival triggers, side by side; then two refreshes of different content.
    for (let i = 0; i < 20; i++) {
      await rm(join(root, 'dm_default_x_r1_n1'), { recursive: true, force: true })
      await Promise.all([pv.prepare(plan([files(`a${i}`)])), pv.refresh(plan([files(`a${i}`)]))])
      assert.equal(await readFile(join(root, 'dm_default_x_r1_n1/cfg/greeting'), 'utf8'), `a${i}`, `round ${i}`)
      await Promise.all([pv.refresh(plan([files(`b${i}`)])), pv.refresh(plan([files(`c${i}`)]))])
      // Either write may land last; its set is whole.
      const greeting = await readFile(join(root, 'dm_default_x_r1_n1/cfg/greeting'), 'utf8')
      assert.ok([`b${i}`, `c${i}`].includes(greeting), `round ${i}: ${greeting}`)
      assert.equal(await readFile(join(root, 'dm_default_x_r1_n1/cfg/sub/other'), 'utf8'), `${greeting}!`)
      // One set of files is left, and ..data points at it.
      assert.equal((await readdir(join(root, 'dm_default_x_r1_n1/cfg'))).filter((n) => n.startsWith('..') && n !== '..data').length, 1)
    }
  })

  it('refresh rewrites only a started pod, and keeps the last files when its ConfigMap is gone', async () => {
    const root = await tempDir('dm-pv-')
    const pv = new PodVolumes(root, join(root, 'memory'))
    const files = (content: string): PodVolume => ({ kind: 'files', name: 'cfg', dir: 'dm_default_x_r1_n1/cfg', files: [{ path: 'k', content, mode: 0o644 }] })
    await pv.refresh(plan([files('early')]))
    await assert.rejects(stat(join(root, 'dm_default_x_r1_n1')), 'a pod not started gets nothing')
    await pv.prepare(plan([files('v1')]))
    await pv.refresh(plan([files('v2')]))
    assert.equal(await readFile(join(root, 'dm_default_x_r1_n1/cfg/k'), 'utf8'), 'v2')
    await pv.refresh(plan([], ['configmap "c" not found']))
    assert.equal(await readFile(join(root, 'dm_default_x_r1_n1/cfg/k'), 'utf8'), 'v2')
    await pv.release('dm_default_x_r1_n1')
    await assert.rejects(stat(join(root, 'dm_default_x_r1_n1')))
    await writeFile(join(root, 'keep'), '')
    await pv.release('../keep')
    await stat(join(root, 'keep'))
  })
})
