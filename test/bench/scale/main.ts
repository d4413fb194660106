// `npm run bench:scale -- --nodes N`: N simulated hosts running the agent's real membership,
// gossip dissemination, store merge, anti-entropy, lease and reconciler, in one process, in
// virtual time, over the measured network model (docs/scale-simulator.md). The run: start
// the hosts, wait for membership to converge, measure idle traffic over a window, kill a
// host, apply a DaemonSet at one host, then roll a template change out over the hosts it
// selects. Progress lines first; the last line is the summary the issue asks for. A
// benchmark, not a test.

import { Command, InvalidArgumentError } from 'commander'
import { signEnvelope } from '../../../core/envelope.js'
import { HybridClock } from '../../../core/hlc.js'
import { parsePrivateKey } from '../../../core/keys.js'
import { StoreKey, dsRef } from '../../../core/keyspace.js'
import { revisionOf } from '../../../core/revision.js'
import { ds } from '../../helpers/fixtures.js'
import { Fleet } from './fleet.js'
import { MEASURED } from './params.js'
import { diffTraffic, totalOf, type Traffic } from './sim-network.js'
import { installParseCache } from './parse-cache.js'
import { installVerifyCache } from './verify-cache.js'
import { installZodCache } from './zod-cache.js'

const int = (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer')
  return n
}
const seconds = (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 3600) throw new InvalidArgumentError('must be a whole number of seconds from 0 to 3600')
  return n
}
const num = (v: string): number => {
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0')
  return n
}
const intOrPercent = (v: string): string | number => {
  if (/^[0-9]+%$/.test(v) || /^[1-9][0-9]*$/.test(v)) return v.endsWith('%') ? v : Number(v)
  throw new InvalidArgumentError('must be a positive integer or a percentage such as 10%')
}

const program = new Command('bench:scale')
  .option('--nodes <n>', 'simulated hosts', int, 100)
  .option('--seed <n>', 'random seed', int, 1)
  .option('--rollout-hosts <n>', 'hosts the rolled DaemonSet selects', int, 10)
  .option('--max-unavailable <n|p%>', "the DaemonSet's rollingUpdate.maxUnavailable", intOrPercent, 1)
  .option('--min-ready-seconds <s>', "the DaemonSet's minReadySeconds: how long a new copy runs before its host releases its slot (the fleet bench's template has 1)", seconds, 0)
  .option('--latency-ms <ms>', 'extra one-way latency per message (loopback is measured; add a LAN or WAN)', num, 0)
  .option('--loss <p>', 'probability a message is lost once (TCP retransmits it after 200 ms, doubling)', num, 0)
  .option('--settle-s <s>', 'virtual seconds to wait after membership converged, before the idle window', num, 5)
  .option('--idle-s <s>', 'idle measurement window (virtual seconds)', num, 10)
  .option('--start-spread-s <s>', 'hosts start one after the other over this window (virtual seconds; default 10 ms a host, at least 2 s)', num)
  .option('--seeds <n>', 'bootstrap peers of each host, at random among the hosts started before it', int, 3)
  .option('--max-connections <n>', "each host's connection cap (the agent's maxConnections; default its default)", int)
  .option('--wall-limit-s <s>', 'stop (exit code 2, after a last progress line) when the run has taken this many seconds of wall time', num)
program.parse()
const o = program.opts<{ wallLimitS?: number; nodes: number; seed: number; rolloutHosts: number; maxUnavailable: string | number; minReadySeconds: number; latencyMs: number; loss: number; idleS: number; settleS: number; startSpreadS?: number; seeds: number; maxConnections?: number }>()

const wallStart = Date.now()
const secs = (ms: number): string => (ms / 1000).toFixed(2)
const t = (fleet: Fleet): string => `[t=${secs(fleet.clock.mono())}s wall=${((Date.now() - wallStart) / 1000).toFixed(0)}s]`
const pct = (sorted: number[], p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number

/** runUntil advances the clock in steps until `done` holds or `limitMs` of virtual time passed; returns whether it held. */
async function runUntil(fleet: Fleet, done: () => boolean, stepMs: number, limitMs: number): Promise<boolean> {
  const end = fleet.clock.mono() + limitMs
  while (!done()) {
    if (fleet.clock.mono() >= end) return false
    if (o.wallLimitS !== undefined && Date.now() - wallStart > o.wallLimitS * 1000) {
      const sizes = fleet.agents.map((a) => a.membership.records.size)
      console.log(`${t(fleet)} wall limit (${o.wallLimitS} s) reached: records held min ${Math.min(...sizes)} mean ${(sizes.reduce((x, c) => x + c, 0) / sizes.length).toFixed(1)}; Unreachable verdicts ${fleet.verdicts.length}; timers fired ${fleet.clock.fired}; no summary line`)
      process.exit(2)
    }
    await fleet.clock.advance(stepMs)
  }
  return true
}

function describeTraffic(tr: Traffic, hosts: number, seconds: number): string {
  const per = (x: number): string => (x / hosts / seconds).toFixed(2)
  const kinds = (Object.keys(tr) as (keyof Traffic)[]).filter((k) => tr[k].msgs > 0 || tr[k].bytes > 0)
  return kinds.map((k) => `${k} ${per(tr[k].msgs)} msg ${per(tr[k].bytes)} B`).join(', ')
}

async function main(): Promise<void> {
  const verifies = installVerifyCache()
  const parses = process.env.SIM_PARSE_CACHE === '0' ? { hits: () => 0 } : installParseCache()
  const zodParses = process.env.SIM_PARSE_CACHE === '0' ? { hits: () => 0 } : installZodCache()
  const params = { ...MEASURED, extraLatencyMs: o.latencyMs, loss: o.loss }
  const fleet = new Fleet({ nodes: o.nodes, seed: o.seed, params, rolloutHosts: Math.min(o.nodes - 1, o.rolloutHosts), seeds: o.seeds, ...(o.maxConnections === undefined ? {} : { maxConnections: o.maxConnections }) })
  console.log(`[sim] nodes=${o.nodes} seed=${o.seed} gossip hop ${params.gossipHopMs.p50}/${params.gossipHopMs.p90} ms (p50/p90) + ${params.extraLatencyMs} ms, CPU/message ${params.gossipCpuMs.record} ms (record) ${params.gossipCpuMs.notice} ms (notice) ${params.duplicateCpuMs} ms (duplicate), frame ${params.frameMs.p50} ms, dial ${params.dialMs.p50} ms, loss ${params.loss}`)
  await fleet.build()
  console.log(`${t(fleet)} built ${o.nodes} hosts (heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB)`)
  // Debug logs name peers by key id: say whose each is.
  if (process.env.SIM_DEBUG !== undefined) for (const a of fleet.agents) process.stderr.write(`${JSON.stringify({ vt: 0, node: a.name, keyId: a.keyId, msg: 'key id' })}\n`)

  // 1. Start and converge: every host holds every host's record.
  const spreadMs = (o.startSpreadS ?? Math.max(2, o.nodes / 100)) * 1000
  fleet.start(spreadMs)
  let lastReport = fleet.clock.mono()
  let cpuMark = fleet.net.cpu.reduce((x, c) => x + c, 0)
  const converged = await runUntil(
    fleet,
    () => {
      const sizes = fleet.agents.map((a) => a.membership.records.size)
      if (fleet.clock.mono() - lastReport >= 10_000) {
        const cpu = fleet.net.cpu.reduce((x, c) => x + c, 0)
        console.log(`${t(fleet)} converging: records held min ${Math.min(...sizes)} mean ${(sizes.reduce((x, c) => x + c, 0) / sizes.length).toFixed(1)}; Unreachable verdicts ${fleet.verdicts.length}; modelled CPU ${(((cpu - cpuMark) / o.nodes / (fleet.clock.mono() - lastReport)) * 100).toFixed(0)}% per host`)
        lastReport = fleet.clock.mono()
        cpuMark = cpu
      }
      return sizes.every((x) => x >= o.nodes)
    },
    250,
    120_000 + spreadMs,
  )
  const conns = fleet.agents.map((a) => fleet.net.connectionsOf(a.transport.peerId))
  console.log(`${t(fleet)} membership ${converged ? 'converged' : 'NOT converged'}: ${fleet.agents.filter((a) => a.membership.records.size >= o.nodes).length}/${o.nodes} hosts hold all ${o.nodes} records; connections per host mean ${(conns.reduce((s, c) => s + c, 0) / conns.length).toFixed(1)} max ${Math.max(...conns)}; heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`)

  // 2. Idle traffic over a window, after the start's dust settles.
  await runUntil(fleet, () => false, 250, o.settleS * 1000)
  const before = structuredClone(fleet.net.traffic)
  const cpuBefore = fleet.net.cpu.reduce((s, c) => s + c, 0)
  const cpuEach = Float64Array.from(fleet.net.cpu)
  const kindsBefore = fleet.net.cpuByKind.map((m) => new Map(m))
  const publishedBefore = new Map(fleet.net.published)
  const deliveredBefore = new Map(fleet.net.delivered)
  const relayedBefore = new Map(fleet.net.relayed)
  await runUntil(fleet, () => false, 250, o.idleS * 1000)
  const idle = diffTraffic(before, fleet.net.traffic)
  const idleCpu = (fleet.net.cpu.reduce((s, c) => s + c, 0) - cpuBefore) / o.nodes / o.idleS
  const idleTotal = totalOf(idle)
  const idleMsgs = idleTotal.msgs / o.nodes / o.idleS
  const idleBytes = idleTotal.bytes / o.nodes / o.idleS
  console.log(`${t(fleet)} idle ${o.idleS}s: per host per second ${idleMsgs.toFixed(2)} messages, ${idleBytes.toFixed(0)} bytes, ${idleCpu.toFixed(1)} ms modelled CPU; by kind: ${describeTraffic(idle, o.nodes, o.idleS)}`)
  const busiest = fleet.agents
    .map((a, i) => ({ name: a.name, ms: ((fleet.net.cpu[i] as number) - (cpuEach[i] as number)) / o.idleS, conns: conns[i] }))
    .sort((x, y) => y.ms - x.ms)
    .slice(0, 5)
  const top = fleet.agents.findIndex((a) => a.name === busiest[0]?.name)
  const kinds = [...(fleet.net.cpuByKind[top] ?? new Map<string, number>())].map(([k, v]) => [k, (v - (kindsBefore[top]?.get(k) ?? 0)) / o.idleS] as const)
  console.log(`${t(fleet)} published while idle (per second, the whole fleet): ${[...fleet.net.published].map(([k, v]) => `${k} ${((v - (publishedBefore.get(k) ?? 0)) / o.idleS).toFixed(1)}`).join(', ')}`)
  const perHost = (m: Map<string, number>, b: Map<string, number>): string => [...m].map(([k, v]) => `${k} ${((v - (b.get(k) ?? 0)) / o.nodes / o.idleS).toFixed(1)}`).join(', ')
  console.log(`${t(fleet)} new gossip messages handled per host per second while idle: ${perHost(fleet.net.delivered, deliveredBefore)}; of them relayed (accepted): ${perHost(fleet.net.relayed, relayedBefore)}`)
  console.log(`${t(fleet)} the busiest host's CPU (ms/s): ${kinds.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`)
  console.log(`${t(fleet)} busiest hosts while idle (modelled CPU ms/s, connections): ${busiest.map((b) => `${b.name} ${b.ms.toFixed(0)} (${b.conns})`).join(', ')}`)

  // 3. Kill a host that is neither a bootstrap peer nor a rollout host.
  const candidates = fleet.agents.filter((a) => a.membership.self().labels['sim-roll'] === undefined)
  const victim = candidates[Math.floor(fleet.random() * candidates.length)] ?? (fleet.agents.at(-1) as (typeof fleet.agents)[number])
  const killedAt = fleet.clock.mono()
  const falseBefore = fleet.verdicts.length
  victim.kill()
  const observers = (): Set<string> => new Set(fleet.verdicts.filter((v) => v.peer === victim.name && v.at >= killedAt).map((v) => v.by))
  const liveCount = o.nodes - 1
  const detectTarget = Math.ceil(0.999 * liveCount)
  const detected = await runUntil(fleet, () => observers().size >= detectTarget, 100, 120_000)
  const detectTimes = fleet.verdicts
    .filter((v) => v.peer === victim.name && v.at >= killedAt)
    .map((v) => v.at - killedAt)
    .sort((a, b) => a - b)
  const detectMs = detected ? (pct(detectTimes, (detectTarget / detectTimes.length) * 100) ?? Number.NaN) : Number.NaN
  const wrong = fleet.verdicts.slice(falseBefore).filter((v) => v.peer !== victim.name).length
  console.log(`${t(fleet)} killed ${victim.name}: first Unreachable verdict after ${detectTimes[0]?.toFixed(0) ?? '-'} ms, ${detectTarget} of ${liveCount} live hosts (99.9%) after ${detected ? detectMs.toFixed(0) : 'never'} ms, all after ${detectTimes.length >= liveCount ? (detectTimes[liveCount - 1] as number).toFixed(0) : '-'} ms; Unreachable verdicts on live hosts so far: ${fleet.verdicts.filter((v) => v.peer !== victim.name).length} (${wrong} since the kill)`)

  // 3b. Cut another such host's link (nothing reaches it, nothing is reset: a pulled cable, or
  // a frozen process), time its Unreachable verdicts, then heal it and wait until every
  // host holds it Alive again. Picked without drawing on the random source, so the steps
  // after it choose as they did before this step existed.
  const cutHost = candidates.filter((a) => a !== victim)[0]
  if (cutHost !== undefined) {
    const cutAt = fleet.clock.mono()
    fleet.hub.partition([`peer-${cutHost.name}`])
    // Each other host's first verdict on it, ms after the cut, in order.
    const seen = (): number[] => {
      const first = new Map<string, number>()
      for (const v of fleet.verdicts) if (v.peer === cutHost.name && v.at >= cutAt && !first.has(v.by)) first.set(v.by, v.at - cutAt)
      return [...first.values()].sort((a, b) => a - b)
    }
    const others = liveCount - 1
    const cutTarget = Math.ceil(0.999 * others)
    const cutSeen = await runUntil(fleet, () => seen().length >= cutTarget, 100, 60_000)
    const cutTimes = seen()
    fleet.hub.heal()
    const healedAt = fleet.clock.mono()
    const back = await runUntil(fleet, () => fleet.live().every((a) => a === cutHost || (a.fleet.state(cutHost.keyId) === 'Alive' && cutHost.fleet.state(a.keyId) === 'Alive')), 100, 60_000)
    console.log(`${t(fleet)} cut ${cutHost.name}'s link (no reset): first Unreachable verdict after ${cutTimes[0]?.toFixed(0) ?? '-'} ms, ${cutTarget} of ${others} other live hosts (99.9%) after ${cutSeen ? (cutTimes[cutTarget - 1]?.toFixed(0) ?? '-') : 'never'} ms; healed: it and every host hold each other Alive again after ${back ? secs(fleet.clock.mono() - healedAt) : 'more than 60'} s`)
  } else console.log(`${t(fleet)} no link cut: every host but the killed one is a rollout host`)

  // 4. Apply a DaemonSet at one live host, operator-signed, through the store's API path.
  const ref = dsRef('default', 'sim-roll')
  const key = StoreKey.daemonSet(ref)
  const opKey = parsePrivateKey(fleet.operator.privateKeyPem)
  const opClock = new HybridClock(() => fleet.clock.wall())
  const spec = (image: string) =>
    ds({ nodeSelector: { 'sim-roll': 'yes' }, containers: [{ name: 'main', image }] }, { metadata: { name: 'sim-roll' }, spec: { minReadySeconds: o.minReadySeconds, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: o.maxUnavailable } } } })
  const v1 = spec('busybox:1.36')
  const env1 = signEnvelope(key, v1, opClock.now(), opKey)
  const live = fleet.live()
  const origin = live[Math.floor(fleet.random() * live.length)] as (typeof live)[number]
  fleet.watch(key, env1.hlc)
  const appliedAt = fleet.clock.mono()
  const status = await origin.apply(env1)
  const applyTarget = Math.ceil(0.999 * liveCount)
  const reached = await runUntil(fleet, () => fleet.mergedTimes().count >= liveCount, 10, 60_000)
  const merged = fleet
    .mergedTimes()
    .times.filter((x) => !Number.isNaN(x))
    .map((x) => x - appliedAt)
    .sort((a, b) => a - b)
  const applyP999 = merged.length >= applyTarget ? (merged[applyTarget - 1] as number) : Number.NaN
  console.log(`${t(fleet)} applied ${ref.key} (${status}) at ${origin.name}: merged by ${merged.length}/${liveCount} live hosts${reached ? '' : ' (not all within 60 s)'}; p50 ${pct(merged, 50)?.toFixed(0)} ms p99 ${pct(merged, 99)?.toFixed(0)} ms p99.9 ${applyP999.toFixed(0)} ms max ${merged.at(-1)?.toFixed(0)} ms; gossip deliveries ${fleet.net.gossip.stats.delivered}, duplicates dropped ${fleet.net.gossip.stats.duplicates}, sent on IWANT ${fleet.net.gossip.stats.iwanted}`)

  // 5. Roll a template change out over the hosts the DaemonSet selects.
  const rollers = fleet.live().filter((a) => a.membership.self().labels['sim-roll'] === 'yes')
  const rev1 = revisionOf(v1)
  const runs = (a: (typeof rollers)[number], rev: string): boolean => a.runtime.revisions(ref.label).includes(rev)
  const up = await runUntil(fleet, () => rollers.every((a) => runs(a, rev1)), 100, 120_000)
  console.log(`${t(fleet)} ${rollers.filter((a) => runs(a, rev1)).length}/${rollers.length} rollout hosts run revision ${rev1}${up ? '' : ' (timed out)'}`)
  // The rollout starts from a settled fleet, as an operator's would (after `rollout status`):
  // every live host's records show every rollout host's copy of the first revision ready. A
  // change made before that finds voters that still count the hosts whose records have not
  // caught up as unavailable, and refuse.
  const settledFrom = fleet.clock.mono()
  const ready = (viewer: (typeof rollers)[number], r: (typeof rollers)[number]): boolean => {
    const pod = viewer.fleet.record(r.keyId)?.pods[ref.key]
    return pod?.revision === rev1 && pod.ready
  }
  const known = await runUntil(fleet, () => fleet.live().every((viewer) => rollers.every((r) => ready(viewer, r))), 100, 60_000)
  console.log(`${t(fleet)} every live host's records show the ${rollers.length} rollout hosts ready at ${rev1} after ${secs(fleet.clock.mono() - settledFrom)} s${known ? '' : ' (timed out: rolling anyway)'}`)
  const v2 = spec('busybox:1.37')
  const rev2 = revisionOf(v2)
  const env2 = signEnvelope(key, v2, opClock.now(), opKey)
  const leaseBefore = fleet.leaseCount.frames
  const rollCpu = Float64Array.from(fleet.net.cpu)
  const rollKinds = fleet.net.cpuByKind.map((m) => new Map(m))
  const rollPublished = new Map(fleet.net.published)
  const rollStart = fleet.clock.mono()
  await origin.apply(env2)
  // Hosts moving at once: acting holds in the table of a live voter on the DaemonSet's committee (a slot granted by a quorum and acted on).
  const committee = new Set(origin.fleet.committee(ref.key))
  const voter = fleet.agents.find((a) => a.running && committee.has(a.keyId)) ?? origin
  const holders = new Map<number, Set<string>>()
  // Each slot's time line at that voter: how long a holder acted, and the gaps with no holder acting.
  const current = new Map<number, { holder: string; since: number }>()
  const freeSince = new Map<number, number>()
  const holds: number[] = []
  const gaps: number[] = []
  let peak = 0
  let maxDown = 0
  const stepMs = 20
  const done = (): boolean => rollers.every((a) => runs(a, rev2) && !runs(a, rev1) && a.lease.slots.status(ref.key).phase === 'idle')
  const finished = await runUntil(
    fleet,
    () => {
      const acting = voter.lease.busySlots().filter((b) => b.ds === ref.key && b.acting)
      for (const b of acting) holders.set(b.slot, (holders.get(b.slot) ?? new Set()).add(b.holder))
      const now = fleet.clock.mono()
      const seen = new Set<number>()
      for (const b of acting) {
        seen.add(b.slot)
        const c = current.get(b.slot)
        if (c?.holder === b.holder) continue
        if (c !== undefined) holds.push(now - c.since)
        const free = freeSince.get(b.slot)
        gaps.push(now - (free ?? rollStart))
        freeSince.delete(b.slot)
        current.set(b.slot, { holder: b.holder, since: now })
      }
      for (const [slot, c] of current) {
        if (seen.has(slot)) continue
        holds.push(now - c.since)
        current.delete(slot)
        freeSince.set(slot, now)
      }
      peak = Math.max(peak, acting.length)
      maxDown = Math.max(maxDown, rollers.filter((a) => a.runtime.revisions(ref.label).length === 0).length)
      return done()
    },
    stepMs,
    Math.max(60_000, rollers.length * 10_000),
  )
  const rollMs = fleet.clock.mono() - rollStart
  const avg = (xs: number[]): number => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length)
  const p50 = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN
  console.log(`${t(fleet)} slot time line at ${voter.name}: ${holds.length} holds, mean ${avg(holds).toFixed(0)} ms (p50 ${p50(holds).toFixed(0)}); ${gaps.length} waits for a holder (from the change or the last release), mean ${avg(gaps).toFixed(0)} ms (p50 ${p50(gaps).toFixed(0)})`)
  const leaseFrames = fleet.leaseCount.frames - leaseBefore
  const rounds = Math.max(0, ...[...holders.values()].map((h) => h.size))
  const leasePerHost = leaseFrames / Math.max(1, rollers.length)
  console.log(
    `${t(fleet)} rollout to ${rev2} over ${rollers.length} hosts (maxUnavailable ${o.maxUnavailable}, minReadySeconds ${o.minReadySeconds}) ${finished ? 'finished' : 'NOT finished'} in ${secs(rollMs)} s: peak ${peak} hosts updating at once (acting slots at ${voter.name}), ${holders.size} slots used, rounds ${rounds} (the most hosts through one slot), at most ${maxDown} hosts without a running copy at once; lease frames ${leaseFrames} (${leasePerHost.toFixed(0)} per rolled host, ${(leasePerHost / liveCount).toFixed(2)} per rolled host per live host)`,
  )
  // Where the modelled CPU went while rolling: a host whose queue is long answers probes and lease requests late.
  const rollS = Math.max(1e-3, rollMs / 1000)
  const rollBusiest = fleet.agents
    .map((a, i) => ({ name: a.name, i, ms: ((fleet.net.cpu[i] as number) - (rollCpu[i] as number)) / rollS }))
    .sort((x, y) => y.ms - x.ms)
  const rollTop = rollBusiest[0]
  const rollTopKinds = rollTop === undefined ? [] : [...(fleet.net.cpuByKind[rollTop.i] ?? new Map<string, number>())].map(([k, v]) => [k, (v - (rollKinds[rollTop.i]?.get(k) ?? 0)) / rollS] as const)
  const rollMean = rollBusiest.reduce((x, b) => x + b.ms, 0) / Math.max(1, rollBusiest.length)
  console.log(`${t(fleet)} modelled CPU while rolling (ms/s): mean ${rollMean.toFixed(0)}; busiest ${rollBusiest.slice(0, 5).map((b) => `${b.name} ${b.ms.toFixed(0)}`).join(', ')}; the busiest by kind: ${rollTopKinds.filter(([, v]) => v >= 0.5).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`)
  console.log(`${t(fleet)} published while rolling (per second, the whole fleet): ${[...fleet.net.published].map(([k, v]) => `${k} ${((v - (rollPublished.get(k) ?? 0)) / rollS).toFixed(1)}`).join(', ')}`)
  const mem = process.memoryUsage()
  console.log(`${t(fleet)} done: timers fired ${fleet.clock.fired}, signature checks answered from the cache ${verifies.hits()}, envelopes parsed once and shared ${parses.hits()}, schema checks shared ${zodParses.hits()}, heap ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB, rss ${(mem.rss / 2 ** 20).toFixed(0)} MiB`)
  console.log(`nodes=${o.nodes} apply_p999_ms=${applyP999.toFixed(0)} detect_ms=${detectMs.toFixed(0)} idle_msgs_per_node_s=${idleMsgs.toFixed(2)} idle_bytes_per_node_s=${idleBytes.toFixed(0)} lease_msgs_per_rolled_host=${leasePerHost.toFixed(0)}`)
  process.exit(0)
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
