// Pod workers with a real agent and this machine's dockerd (node wk-1): a daemon waiting
// out a long grace period does not hold up another daemon's start, a DaemonSet applied again
// while its copy stops gets a new copy only after the old one is gone, thirty deletes take about
// one grace period, a stop that hangs in Docker stalls only its own copy (which reports it
// and retries), and a duplicate sampler never sees two copies of one DaemonSet on the host.
//
// Time bounds: the issue's (2 s for a start, 5 s for thirty deletes), or, when the shared
// machine is so loaded that Docker alone needs more than that, what Docker alone needs
// (measured just before, side by side: DockerFloor) plus the same slack. The sequential
// reconciler these replace took 29.8 s and 34.6 s.

import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { DockerFloor, TEST_IMAGE, buildTestImage, docker, managed, removeManaged, requireDocker } from '../helpers/docker.js'
import { CopySampler } from '../helpers/sampler.js'
import { sleeperYaml } from '../helpers/manifests.js'

const HOST = 'unix:///var/run/docker.sock'
const NODE = 'wk-1'
const skip = await requireDocker(HOST)
const run = promisify(execFile)

const ds = (name: string, grace: number, command?: string): string => sleeperYaml(name, { grace, ...(command === undefined ? {} : { command }) })
/** A daemon that ignores SIGTERM, as many do: only the SIGKILL after the grace period ends it. */
const STUBBORN = `["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]`

describe('pod workers with a real dockerd', { skip }, () => {
  let cluster: TestCluster
  let agent: TestAgent
  const sampler = new CopySampler(HOST, [NODE])
  /** The containerd shim frozen by the hung-stop case, thawed whatever happens. */
  let frozenShim: number | undefined

  const cli = async (...args: string[]): Promise<string> => {
    const r = await runCli(...args, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const apply = async (text: string): Promise<void> => {
    const f = join(cluster.root, `ds-${Math.random()}.yaml`)
    await writeFile(f, text)
    await cli('apply', '-f', f)
  }
  const live = async (name: string): Promise<{ id: string; state: string }[]> => (await managed(HOST, [NODE])).filter((r) => r.daemonSet === `default.${name}` && r.state !== 'exited')
  /** startedAt returns when Docker started the DaemonSet's running container (ms since the epoch). */
  const startedAt = async (name: string): Promise<number | undefined> => {
    const c = (await live(name)).find((r) => r.state === 'running')
    if (c === undefined) return undefined
    return Date.parse((await docker(HOST, 'inspect', '-f', '{{.State.StartedAt}}', c.id)).trim())
  }
  const workers = async (): Promise<Record<string, { doing: string; since: number }>> => {
    const n = (await agent.nodes()).find((x) => x.metadata.name === NODE)
    return (n?.status as unknown as { workers?: Record<string, { doing: string; since: number }> }).workers ?? {}
  }

  before(async () => {
    await buildTestImage(HOST)
    await removeManaged(HOST, [NODE])
    cluster = await TestCluster.create('wk', 3000)
    cluster.logLevel = 'info'
    // A failed stop is retried 2 s later (10 s in production); the stop margin is production's.
    agent = await cluster.agent({ name: NODE, docker: HOST, env: { DAEMONMESH_TEST_TIMINGS: JSON.stringify({ reconciler: { backoffStartMs: 2000 } }) } }).start()
    sampler.start()
  })

  after(async () => {
    sampler.stop()
    await new DockerFloor(HOST, 'wk-floor', 30, 1).clean()
    if (frozenShim !== undefined) process.kill(frozenShim, 'SIGCONT')
    await cluster?.stopAll()
    await removeManaged(HOST, [NODE])
  })

  it('a daemon waiting out a 30 s grace period does not hold up another daemon\'s start', async () => {
    await apply(ds('wk-slow', 30, STUBBORN))
    await waitFor('wk-slow running', async () => (await startedAt('wk-slow')) !== undefined, 20_000, 100)
    await cli('delete', 'ds', 'wk-slow')
    await waitFor('wk-slow stopping, shown by describe node', async () => {
      const r = await runCli('describe', 'node', NODE, '--agent', agent.target.address)
      return /default\/wk-slow +Stopping \(grace 30 s\)/.test(r.stdout)
    }, 5_000, 100)
    await new Promise((r) => setTimeout(r, 500))
    const one = new DockerFloor(HOST, 'wk-floor', 1, 1)
    const floor = await one.run()
    await one.rmForce()
    const applied = Date.now()
    await apply(ds('wk-fast', 1))
    const started = await waitFor('wk-fast running', () => startedAt('wk-fast'), 20_000, 50)
    const took = started - applied
    process.stderr.write(`wk-fast started ${took} ms after its apply, wk-slow still stopping (one docker run: ${floor} ms)\n`)
    assert.ok(took < Math.max(2000, floor + 1500), `wk-fast started ${took} ms after its apply; one docker run took ${floor} ms`)
    assert.equal((await live('wk-slow')).filter((c) => c.state === 'running').length, 1, 'wk-slow is still waiting out its grace period')
    await cli('delete', 'ds', 'wk-fast')
  })

  it('a DaemonSet applied again while its copy is stopping gets its new copy only once the old one is gone', async () => {
    await apply(ds('wk-again', 4, STUBBORN))
    await waitFor('wk-again running', async () => (await startedAt('wk-again')) !== undefined, 20_000, 100)
    const old = (await live('wk-again'))[0]?.id
    await cli('delete', 'ds', 'wk-again')
    await waitFor('wk-again stopping', async () => (await workers())['default/wk-again']?.doing === 'Stopping (grace 4 s)', 5_000, 100)
    await apply(ds('wk-again', 4, STUBBORN))
    const fresh = await waitFor('a new copy running', async () => (await live('wk-again')).find((c) => c.id !== old && c.state === 'running'), 30_000, 100)
    const exited = Date.parse((await docker(HOST, 'inspect', '-f', '{{.State.FinishedAt}}', old ?? '').catch(() => '')).trim())
    const started = Date.parse((await docker(HOST, 'inspect', '-f', '{{.State.StartedAt}}', fresh.id)).trim())
    // The old container is removed right after it exits; when it is already gone, it surely exited before.
    if (Number.isFinite(exited)) assert.ok(exited <= started, 'the new copy started after the old one exited')
    assert.deepEqual((await live('wk-again')).map((c) => c.id), [fresh.id])
    await cli('delete', 'ds', 'wk-again')
  })

  it('deleting 30 DaemonSets with a 1 s grace period takes about one grace period', async () => {
    const f30 = new DockerFloor(HOST, 'wk-floor', 30, 1)
    await f30.run()
    const floor = await f30.stopRm()
    const names = Array.from({ length: 30 }, (_, i) => `wk-m-${i + 1}`)
    const f = join(cluster.root, 'thirty.yaml')
    await writeFile(f, names.map((n) => ds(n, 1)).join('---\n'))
    const t0 = Date.now()
    await cli('apply', '-f', f)
    const running = async (): Promise<number> => (await managed(HOST, [NODE])).filter((r) => r.daemonSet.startsWith('default.wk-m-') && r.state === 'running').length
    await waitFor('30 running', async () => (await running()) === 30, 60_000, 100)
    process.stderr.write(`30 DaemonSets running ${Date.now() - t0} ms after the apply\n`)
    const t1 = Date.now()
    await cli('delete', '-f', f)
    const written = Date.now() - t1
    await waitFor('30 removed', async () => (await managed(HOST, [NODE])).filter((r) => r.daemonSet.startsWith('default.wk-m-')).length === 0, 60_000, 100)
    const took = Date.now() - t1
    process.stderr.write(`30 DaemonSets (1 s grace) removed ${took} ms after the delete began (the CLI took ${written} ms to write the 30 deletions; Docker alone: ${floor} ms for 30 x stop -t 1 + rm)\n`)
    assert.ok(took < Math.max(5000, floor + 3500), `the delete took ${took} ms; Docker alone took ${floor} ms`)
  })

  it('a stop that hangs in Docker stalls only its own copy, which reports it and retries', async () => {
    await apply(ds('wk-hang', 1))
    await waitFor('wk-hang running', async () => (await startedAt('wk-hang')) !== undefined, 20_000, 100)
    const id = (await live('wk-hang'))[0]?.id ?? ''
    // Freezing the container's containerd shim makes Docker's stop (and inspect) of it block.
    const { stdout } = await run('pgrep', ['-f', `containerd-shim.*-id ${id}`])
    frozenShim = Number(stdout.trim().split('\n')[0])
    assert.ok(frozenShim > 0, `the shim of ${id}`)
    process.kill(frozenShim, 'SIGSTOP')
    await cli('delete', 'ds', 'wk-hang')
    await new Promise((r) => setTimeout(r, 500))
    const one = new DockerFloor(HOST, 'wk-floor', 1, 1)
    const floor = await one.run()
    await one.rmForce()
    const applied = Date.now()
    await apply(ds('wk-after', 1))
    const started = await waitFor('wk-after running', () => startedAt('wk-after'), 20_000, 50)
    process.stderr.write(`wk-after started ${started - applied} ms after its apply, wk-hang's stop hung (one docker run: ${floor} ms)\n`)
    assert.ok(started - applied < Math.max(2000, floor + 1500), `wk-after started ${started - applied} ms after its apply; one docker run took ${floor} ms`)
    const failed = await waitFor('wk-hang reports its stop failed', async () => {
      const w = (await workers())['default/wk-hang']
      return w !== undefined && /KillContainerError: docker stop .* did not answer within 16 s/.test(w.doing) ? w.doing : undefined
    }, 40_000, 200)
    process.stderr.write(`wk-hang's worker: ${failed}\n`)
    assert.equal((await live('wk-after')).length, 1, 'the other daemon kept running meanwhile')
    process.kill(frozenShim, 'SIGCONT')
    frozenShim = undefined
    await waitFor('wk-hang removed once Docker answers again', async () => (await managed(HOST, [NODE])).every((r) => r.daemonSet !== 'default.wk-hang'), 30_000, 200)
    await waitFor('its worker idle again', async () => (await workers())['default/wk-hang'] === undefined, 10_000, 200)
    await cli('delete', 'ds', 'wk-after')
  })

  it('the slow daemon is gone after its grace period, and no DaemonSet ever had two copies on the host', async () => {
    await waitFor('everything removed', async () => {
      const left = await managed(HOST, [NODE])
      if (left.length > 0) throw new Error(`left: ${left.map((r) => `${r.daemonSet} ${r.state}`).join(', ')}; workers: ${JSON.stringify(await workers())}`)
      return true
    }, 60_000, 200)
    sampler.stop()
    assert.ok(sampler.samples > 50, `the sampler ran (${sampler.samples} samples)`)
    assert.deepEqual(sampler.duplicates(), [])
    assert.ok(sampler.most.size >= 34, `the sampler saw every DaemonSet (${sampler.most.size})`)
  })
})
