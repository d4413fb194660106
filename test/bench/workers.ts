// `npm run bench:workers`: one real agent with this machine's dockerd, N DaemonSets (default
// 30) on that one host. Each round times, beside the Docker floor measured in the same
// round, start-all (apply of one bundle -> every copy running) and delete-all (delete of the
// bundle -> every container gone). The floor is N parallel `docker run -d` for the start,
// and for the delete both N parallel `docker rm -f` (no grace at all) and N parallel
// `docker stop -t GRACE` + `docker rm` (the same grace the DaemonSets have, as the agent must
// honour). Both agent times include the CLI writing the N objects (printed beside them).
// Not a test: it asserts nothing and `npm test` does not run it.
//
//   npm run bench:workers -- --count 30 --grace 1 --rounds 3 [--concurrency 4,8] [--baseline DIR]
//
// --concurrency runs the agent with each --docker-concurrency given (default: its default).
// --baseline DIR also runs another checkout's agent (built, with its node_modules), for a
// before/after comparison.

import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { DockerFloor, TEST_IMAGE, buildTestImage, managed, removeManaged } from '../helpers/docker.js'
import { sleeperYaml } from '../helpers/manifests.js'

const run = promisify(execFile)
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '30' },
    grace: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '' },
    baseline: { type: 'string' },
  },
})
const N = Number(values.count)
const GRACE = Number(values.grace)
const ROUNDS = Number(values.rounds)
const LIMITS = (values.concurrency ?? '').split(',').filter((x) => x !== '').map(Number)
const HOST = 'unix:///var/run/docker.sock'
const NODE = 'wk-bench'

const out = (s: string): boolean => process.stdout.write(`${s}\n`)
const secs = (ms: number): string => (ms / 1000).toFixed(2)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN

const manifest = (name: string): string => sleeperYaml(name, { grace: GRACE })

/** floor measures the Docker floor: N parallel runs, then N parallel rm -f; then N runs again, stopped with the grace and removed. */
async function floor(): Promise<{ run: number; rmForce: number; stopRm: number }> {
  const f = new DockerFloor(HOST, 'wk-bench-floor', N, GRACE)
  const runMs = await f.run()
  const rmForce = await f.rmForce()
  await f.run()
  const stopRm = await f.stopRm()
  return { run: runMs, rmForce, stopRm }
}

/** agentRound applies N DaemonSets to one agent and deletes them, timing both to what Docker shows. */
async function agentRound(cluster: TestCluster, agent: TestAgent, bundle: string): Promise<{ start: number; del: number; applyCli: number; deleteCli: number }> {
  const mine = async (): Promise<{ state: string }[]> => (await managed(HOST, [NODE])).filter((r) => r.daemonSet.startsWith('default.wk-b-'))
  const t0 = Date.now()
  const a = await runCli('apply', '-f', bundle, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
  if (a.code !== 0) throw new Error(a.stderr)
  const applyCli = Date.now() - t0
  await waitFor(`${N} running`, async () => (await mine()).filter((r) => r.state === 'running').length === N, 120_000, 50)
  const start = Date.now() - t0
  const t1 = Date.now()
  const d = await runCli('delete', '-f', bundle, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
  if (d.code !== 0) throw new Error(d.stderr)
  const deleteCli = Date.now() - t1
  await waitFor('all removed', async () => (await mine()).length === 0, 120_000, 50)
  return { start, del: Date.now() - t1, applyCli, deleteCli }
}

async function main(): Promise<void> {
  await buildTestImage(HOST)
  await removeManaged(HOST, [NODE])
  await new DockerFloor(HOST, 'wk-bench-floor', N, GRACE).clean()
  const cluster = await TestCluster.create('wk-bench', 3000)
  cluster.logLevel = 'info'
  const bundle = join(cluster.root, 'bundle.yaml')
  await writeFile(bundle, Array.from({ length: N }, (_, i) => manifest(`wk-b-${i + 1}`)).join('---\n'))
  const variants: { label: string; extra: string[]; bin?: string }[] = [
    ...(LIMITS.length === 0 ? [{ label: 'this build', extra: [] }] : LIMITS.map((l) => ({ label: `this build, --docker-concurrency ${l}`, extra: ['--docker-concurrency', String(l)] }))),
    ...(values.baseline === undefined ? [] : [{ label: `baseline ${values.baseline}`, extra: [], bin: join(values.baseline, 'bin/daemonmesh.js') }]),
  ]
  const rows: Record<string, { start: number[]; del: number[] }> = {}
  const floors = { run: [] as number[], rmForce: [] as number[], stopRm: [] as number[] }
  out(`${N} DaemonSets on one host (terminationGracePeriodSeconds ${GRACE}, a process that ignores SIGTERM), ${ROUNDS} rounds; cores: ${(await run('nproc')).stdout.trim()}`)
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      const f = await floor()
      floors.run.push(f.run)
      floors.rmForce.push(f.rmForce)
      floors.stopRm.push(f.stopRm)
      out(`round ${r}: floor: ${N} x docker run ${secs(f.run)} s, ${N} x docker rm -f ${secs(f.rmForce)} s, ${N} x docker stop -t ${GRACE} + rm ${secs(f.stopRm)} s`)
      for (const v of variants) {
        const agent = cluster.agent({ name: NODE, docker: HOST, extra: v.extra, ...(v.bin === undefined ? {} : { bin: v.bin }) })
        await agent.start()
        try {
          const m = await agentRound(cluster, agent, bundle)
          ;(rows[v.label] ??= { start: [], del: [] }).start.push(m.start)
          rows[v.label]?.del.push(m.del)
          out(`round ${r}: ${v.label}: start-all ${secs(m.start)} s (of which the CLI's apply ${secs(m.applyCli)} s), delete-all ${secs(m.del)} s (the CLI's delete ${secs(m.deleteCli)} s)`)
        } finally {
          await agent.stop('SIGKILL')
          cluster.agents.splice(cluster.agents.indexOf(agent), 1)
          await removeManaged(HOST, [NODE])
        }
      }
    }
  } finally {
    await cluster.stopAll()
    await removeManaged(HOST, [NODE])
    await new DockerFloor(HOST, 'wk-bench-floor', N, GRACE).clean()
  }
  out('')
  out(`medians over ${ROUNDS} rounds (s)      start-all   delete-all`)
  out(`Docker floor                        ${secs(median(floors.run)).padStart(9)}   ${secs(median(floors.stopRm)).padStart(10)} (stop -t ${GRACE} + rm; rm -f: ${secs(median(floors.rmForce))})`)
  for (const [label, m] of Object.entries(rows)) out(`${label.padEnd(36)}${secs(median(m.start)).padStart(9)}   ${secs(median(m.del)).padStart(10)}`)
}

await main()
