// `npm run bench:fleet -- --hosts N`: daemonmesh beside Docker Swarm on the same hosts.
// N network-namespace hosts on one bridge (the e2e fabric), each with its own dockerd and
// the test images (busybox FROM scratch). Timed, one after the other on those hosts:
//   1. daemonmesh, the real CLI run with node against host 1's agent: apply -> a copy
//      running on every host; set image (RollingUpdate maxUnavailable 1, minReadySeconds 1)
//      -> the last host's new copy started, plus the 1 s readiness wait; delete -> no copy
//      running anywhere (1 s grace); then a maxSurge 1 (maxUnavailable 0) rollout.
//   2. Docker Swarm: a global service on the host network, update parallelism 1 with a 1 s
//      monitor, 1 s stop grace (and start-first for the surge line).
//   3. The floor: plain `docker run -d` and `docker stop -t 1` on the same dockerds.
// Times come from each dockerd's own events (nanosecond timestamps, one machine clock), from
// the moment the command is run. It prints one table, the ratios and the floor. Everything is
// torn down at the end, after a failure and on SIGINT. A benchmark, not a test.
//
//   npm run bench:fleet -- --hosts 5 [--subnet 173] [--trace]
//
// --trace runs the agents at debug level and prints, for the apply and for one rolled
// host, every agent's log lines and Docker's events on one time line (docs/fleet-speed.md).

import { writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Command, InvalidArgumentError } from 'commander'
import { waitFor } from '../../helpers/cluster.js'
import { TEST_IMAGE, docker } from '../../helpers/docker.js'
import { Fleet, cli } from '../../helpers/hosts.js'
import { requireHostTools } from '../../helpers/netns.js'
import { EventLog, timeline, type ContainerEvent, type Selects } from './events.js'
import { Swarm, swarmTask } from './swarm.js'
import { traceOf } from './trace.js'

const int = (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > 250) throw new InvalidArgumentError('must be an integer from 1 to 250')
  return n
}
const program = new Command('bench:fleet')
  .option('--hosts <n>', 'namespace hosts, each with its own dockerd', int, 5)
  .option('--subnet <n>', 'the bridge is 10.SUBNET.0.0/24 (pick one no e2e file uses)', int, 173)
  .option('--trace', 'agents at debug level; print the apply and one rolled host on one time line')
program.parse()
const o = program.opts<{ hosts: number; subnet: number; trace?: boolean }>()

const V2 = 'daemonmesh-test/app:v2'
const DS = 'fl-bench'
const SURGE = 'fl-surge'
/** The readiness wait of the issue: minReadySeconds 1 (daemonmesh), the update monitor (Swarm). */
const READY_MS = 1000
const out = (s: string): boolean => process.stdout.write(`${s}\n`)
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ')

const manifest = (name: string, strategy: string): string => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: ${name}}}
  minReadySeconds: 1
  updateStrategy: {type: RollingUpdate, rollingUpdate: ${strategy}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
`

const fleet = new Fleet(o.subnet)
const events = new EventLog()
let swarm: Swarm | undefined
let torn = false
async function teardown(): Promise<void> {
  if (torn) return
  torn = true
  events.close()
  await swarm?.down()
  await fleet.destroy()
}
process.once('SIGINT', () => {
  out('interrupted: tearing down')
  void teardown().finally(() => process.exit(130))
})

/** Verb is one timed verb: its duration (ms), where each host was done, and what the events showed. */
interface Verb {
  ms: number
  t0: number
  doneAt: number[]
  maxDown: number
  maxPerHost: number
}

/**
 * timed runs `start` at t0 and waits until `done` held on every host (by the events of the
 * selected containers); the verb took from t0 to the last host, plus `extraMs`.
 */
async function timed(what: string, start: () => Promise<unknown>, selects: Selects, initial: number, done: Selects, extraMs = 0): Promise<Verb> {
  const t0 = Date.now()
  await start()
  const t = await waitFor(what, () => {
    const tl = timeline(events.since(t0, selects), o.hosts, initial, done)
    return tl.doneAt.every((x) => x !== undefined) ? tl : undefined
  }, 120_000, 20)
  const doneAt = t.doneAt as number[]
  return { ms: Math.max(...doneAt) - t0 + extraMs, t0, doneAt, maxDown: t.maxDown, maxPerHost: t.maxPerHost }
}

const started: Selects = (e) => e.action === 'start'
const startedImage = (image: string): Selects => (e) => e.action === 'start' && e.attrs.image === image
const died: Selects = (e) => e.action === 'die'
const ofDs = (name: string): Selects => (e) => e.attrs['daemonmesh.io/daemonset'] === `default.${name}`

async function daemonmesh(): Promise<Record<string, Verb>> {
  const h0 = fleet.hosts[0]
  if (h0 === undefined) throw new Error('no hosts')
  const dm = async (...args: string[]): Promise<void> => {
    const r = await cli(...args, '--agent', h0.agent.target.address, '--key', fleet.cluster.operatorKeyFile)
    if (r.code !== 0) throw new Error(`daemonmesh ${args.join(' ')}: ${r.stderr}`)
  }
  const file = async (name: string, strategy: string): Promise<string> => {
    const f = join(fleet.cluster.root, `${name}.yaml`)
    await writeFile(f, manifest(name, strategy))
    return f
  }
  const one = await file(DS, '{maxUnavailable: 1}')
  const surge = await file(SURGE, '{maxUnavailable: 0, maxSurge: 1}')
  const r: Record<string, Verb> = {}
  r.apply = await timed('daemonmesh apply', () => dm('apply', '-f', one), ofDs(DS), 0, started)
  await settle()
  r.update = await timed('daemonmesh rollout', () => dm('set', 'image', `ds/${DS}`, `main=${V2}`), ofDs(DS), 1, startedImage(V2), READY_MS)
  await settle(READY_MS)
  r.delete = await timed('daemonmesh delete', () => dm('delete', 'ds', DS), ofDs(DS), 1, died)
  await settle()
  await timed('daemonmesh apply (surge)', () => dm('apply', '-f', surge), ofDs(SURGE), 0, started)
  await settle()
  r.surge = await timed('daemonmesh surge rollout', () => dm('set', 'image', `ds/${SURGE}`, `main=${V2}`), ofDs(SURGE), 1, startedImage(V2), READY_MS)
  await settle(READY_MS)
  await timed('daemonmesh delete (surge)', () => dm('delete', 'ds', SURGE), ofDs(SURGE), 1, died)
  return r
}

async function dockerSwarm(): Promise<Record<string, Verb>> {
  swarm = new Swarm(fleet.hosts.map((h) => ({ docker: h.docker, address: h.host.address })))
  await swarm.up()
  const s = swarm
  const task = swarmTask(DS)
  const r: Record<string, Verb> = {}
  r.apply = await timed('swarm create', () => s.create(DS, TEST_IMAGE), task, 0, started)
  await settle()
  r.update = await timed('swarm update', () => s.update(DS, V2), task, 1, startedImage(V2), READY_MS)
  await settle(READY_MS)
  r.delete = await timed('swarm rm', () => s.remove(DS), task, 1, died)
  await settle()
  const st = swarmTask(SURGE)
  await timed('swarm create (start-first)', () => s.create(SURGE, TEST_IMAGE, { startFirst: true }), st, 0, started)
  await settle()
  r.surge = await timed('swarm update (start-first)', () => s.update(SURGE, V2), st, 1, startedImage(V2), READY_MS)
  await settle(READY_MS)
  await timed('swarm rm (start-first)', () => s.remove(SURGE), st, 1, died)
  await swarm.down()
  return r
}

/** Floor is what Docker alone takes here: one `docker run -d` and one `docker stop -t 1` (ms), on one host and on all at once. */
interface Floor {
  runOne: number
  stopOne: number
  runAll: number
  stopAll: number
}

async function floor(): Promise<Floor> {
  const name = 'fl-floor'
  const run = async (sock: string): Promise<number> => {
    const t0 = Date.now()
    await docker(sock, 'run', '-d', '--name', name, '--network', 'host', '--stop-timeout', '1', TEST_IMAGE, 'sleep', '3600')
    return Date.now() - t0
  }
  const stop = async (sock: string): Promise<number> => {
    const t0 = Date.now()
    await docker(sock, 'stop', '-t', '1', name)
    const ms = Date.now() - t0
    await docker(sock, 'rm', name)
    return ms
  }
  const socks = fleet.hosts.map((h) => h.docker)
  const first = socks[0] as string
  const runOne = await run(first)
  const stopOne = await stop(first)
  const runAll = Math.max(...(await Promise.all(socks.map(run))))
  const stopAll = Math.max(...(await Promise.all(socks.map(stop))))
  return { runOne, stopOne, runAll, stopAll }
}

/** settle gives the fleet a moment between verbs (untimed), plus `ms`. */
async function settle(ms = 0): Promise<void> {
  await new Promise((r) => setTimeout(r, 1500 + ms))
}

async function main(): Promise<void> {
  const skip = await requireHostTools()
  if (skip !== undefined) throw new Error(skip)
  out(`bench:fleet: ${o.hosts} hosts on 10.${o.subnet}.0.0/24; load average ${load()} at start`)
  await fleet.up()
  fleet.cluster.logLevel = o.trace === true ? 'debug' : 'info'
  // The agents' own timings, as production runs them.
  fleet.cluster.heartbeat = ''
  fleet.cluster.antiEntropy = ''
  for (let i = 1; i <= o.hosts; i++) await fleet.addHost(`fl-host-${i}`, { imageTags: [V2] })
  await waitFor(`${o.hosts} alive everywhere`, async () => (await Promise.all(fleet.hosts.map(async (x) => (await x.agent.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === o.hosts), 60_000, 200)
  await events.watch(fleet.hosts.map((h) => h.docker))
  out(`hosts up; load average ${load()}`)

  const dm = await daemonmesh()
  out(`daemonmesh done; load average ${load()}`)
  if (o.trace === true) {
    const logs = fleet.hosts.map((h) => join(h.agent.dir, 'agent.log'))
    const selects = (e: ContainerEvent): boolean => e.attrs['daemonmesh.io/daemonset'] === `default.${DS}`
    out('\n## trace: apply')
    out(await traceOf(logs, events.events.filter(selects), dm.apply as Verb))
    out('\n## trace: rolling update')
    out(await traceOf(logs, events.events.filter(selects), dm.update as Verb, true))
  }
  await fleet.cluster.stopAll()
  const sw = await dockerSwarm()
  out(`swarm done; load average ${load()}`)
  const f = await floor()

  const n = o.hosts
  const floorRoll = n * (f.stopOne + f.runOne + READY_MS)
  const rows: [string, Verb | undefined, Verb | undefined, string][] = [
    [`apply/create -> running on all ${n}`, dm.apply, sw.apply, `docker run -d on all at once ${secs(f.runAll)} (one: ${secs(f.runOne)})`],
    ['rolling update, 1 host at a time, 1 s readiness wait', dm.update, sw.update, `${n} x (stop -t 1 ${secs(f.stopOne)} + run ${secs(f.runOne)} + 1 s) = ${secs(floorRoll)}`],
    [`delete -> gone on all ${n}`, dm.delete, sw.delete, `docker stop -t 1 on all at once ${secs(f.stopAll)}`],
    ['rolling update with surge (maxSurge 1 / start-first)', dm.surge, sw.surge, `-`],
  ]
  out('')
  out('| verb | Docker Swarm | daemonmesh | daemonmesh / Swarm | floor |')
  out('|---|---|---|---|---|')
  for (const [verb, d, s, fl] of rows) out(`| ${verb} | ${s === undefined ? '-' : secs(s.ms)} | ${d === undefined ? '-' : secs(d.ms)} | ${d === undefined || s === undefined ? '-' : (d.ms / s.ms).toFixed(2)} | ${fl} |`)
  out('')
  out(`rolling update (maxUnavailable 1): daemonmesh ${secs(dm.update?.ms ?? NaN)} = floor + ${(((dm.update?.ms ?? NaN) - floorRoll) / n).toFixed(0)} ms per host; at most ${dm.update?.maxDown} host(s) without a running copy, at most ${dm.update?.maxPerHost} copies on one host`)
  out(`maxSurge 1 rollout: daemonmesh ${secs(dm.surge?.ms ?? NaN)} (maxUnavailable 1: ${secs(dm.update?.ms ?? NaN)}); at most ${dm.surge?.maxDown} host(s) without a running copy, at most ${dm.surge?.maxPerHost} copies on one host; Swarm start-first ${secs(sw.surge?.ms ?? NaN)}, at most ${sw.surge?.maxDown} down`)
  out(`Swarm stop-first: at most ${sw.update?.maxDown} host(s) without a running task`)
  out(`load average at the end ${load()}`)
}

try {
  await main()
} catch (err) {
  out(`bench:fleet failed: ${(err as Error).stack ?? String(err)}`)
  process.exitCode = 1
} finally {
  await teardown()
}
