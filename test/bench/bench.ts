// `npm run bench`: real agents on loopback (docker none), at several fleet sizes, beside
// Serf agents on the same machine in the same run. For each size it prints the time from
// the last agent answering to every agent knowing every other (full membership), then idle
// CPU (ms of CPU per second, from /proc) and RSS per agent over an idle window. At the
// largest size it also times apply -> every store, a SIGKILLed agent until every other
// marks it Unreachable, and a frozen agent (SIGSTOP: no answer, no reset) until every
// other marks it Unreachable. Those three are read from each agent's own log (the time it
// logged the store change, or its Unreachable verdict), not from when a poll of its API
// first saw it: polling 30 agents every 50 ms was itself much of the load on this machine,
// and a poll sees a change up to an interval late. Nor does the bench poll the agents' APIs
// to know when every agent has it: it reads their log files (every 250 ms). Not a test: it
// asserts nothing and `npm test` does not run it.
//
//   npm run bench -- --sizes 5,10,20,30 --idle 20 --settle 10 --rounds 10 [--daemonsets N] [--no-serf] [--baseline DIR]   (--help for all)
//
// The idle window starts --settle seconds after full membership, so start-up work (records
// published at start, first anti-entropy rounds, JIT warm-up) is not counted as idle cost.
//
// --daemonsets N applies N DaemonSets (stored everywhere, not run: --docker none) once the
// membership is full, before the settle period, so that RSS is that of an agent holding them.
//
// Each checkout's agents run with the Node flags of its own `npm start` (package.json), as
// production runs them (the systemd unit and the package's launcher carry the same flags).
// --baseline DIR also runs another checkout's agent (built, with its node_modules) at the
// same sizes in the same run, for a before/after comparison, the apply, SIGKILL and freeze
// too at the largest size (through this checkout's CLI; those lines start with `baseline:`).

import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import { Command, InvalidArgumentError, Option } from 'commander'
import { main as cli } from '../../cli/main.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'

const run = promisify(execFile)
const count = (min: number, max: number) => (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`)
  return n
}
const sizes = (v: string): number[] => {
  const list = v.split(',').map((x) => Number(x.trim()))
  if (list.some((n) => !Number.isInteger(n) || n < 2 || n > 100)) throw new InvalidArgumentError('must be a comma-separated list of integers from 2 to 100')
  // Smallest first: the extras run at the last size, which the help calls the largest.
  list.sort((a, b) => a - b)
  // The SIGKILL and freeze times are read from agents other than the two stopped.
  if ((list.at(-1) as number) < 3) throw new InvalidArgumentError('the largest size must be at least 3: the SIGKILL and freeze times need a third agent to watch')
  return list
}
const program = new Command('bench')
  .description('real agents on loopback (--docker none) at several fleet sizes, beside Serf: membership, idle CPU and RSS; apply, SIGKILL and freeze at the largest size')
  .addOption(new Option('--sizes <list>', 'fleet sizes, comma-separated').argParser(sizes).default([5, 10, 20, 30], '5,10,20,30'))
  .option('--idle <s>', 'length of the idle window, seconds', count(1, 600), 20)
  .option('--settle <s>', 'seconds from full membership to the idle window', count(0, 600), 10)
  .option('--rounds <n>', 'apply rounds at the largest size', count(1, 100), 10)
  .option('--daemonsets <n>', 'DaemonSets applied (stored, not run) before the settle period', count(0, 1000), 0)
  .option('--no-serf', 'leave Serf out')
  .option('--baseline <dir>', 'also run the agent of another built checkout, for a before/after comparison')
program.parse()
const values = program.opts<{ sizes: number[]; idle: number; settle: number; rounds: number; daemonsets: number; serf: boolean; baseline?: string }>()
const SIZES = values.sizes
const IDLE_S = values.idle
const ROUNDS = values.rounds
const SETTLE_S = values.settle
const DAEMONSETS = values.daemonsets
const TICK = 100 // clock ticks per second in /proc/PID/stat (USER_HZ)
const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..')

/** nodeFlags returns the Node flags of a checkout's `npm start` (`node FLAGS bin/daemonmesh.js agent`): production's. */
async function nodeFlags(checkout: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(checkout, 'package.json'), 'utf8')) as { scripts?: { start?: string } }
  const words = (pkg.scripts?.start ?? '').split(/\s+/)
  const entry = words.indexOf('bin/daemonmesh.js')
  return words[0] === 'node' && entry > 0 ? words.slice(1, entry) : []
}

const quiet = new Writable({ write: (_c, _e, cb) => cb() })
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
const out = (s: string): boolean => process.stdout.write(`${s}\n`)

/** cpuTicks returns utime + stime of a process. */
async function cpuTicks(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
  return Number(f[11]) + Number(f[12])
}
async function rssMiB(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) / 1024
}
/** idle waits SETTLE_S seconds, then measures CPU ms per second and RSS of each process over IDLE_S seconds. */
async function idle(pids: number[]): Promise<{ cpu: number[]; rss: number[] }> {
  await new Promise((r) => setTimeout(r, SETTLE_S * 1000))
  const before = await Promise.all(pids.map(cpuTicks))
  await new Promise((r) => setTimeout(r, IDLE_S * 1000))
  const after = await Promise.all(pids.map(cpuTicks))
  return { cpu: after.map((a, i) => ((a - (before[i] ?? 0)) * (1000 / TICK)) / IDLE_S), rss: await Promise.all(pids.map(rssMiB)) }
}

interface Row { who: string; n: number; membershipMs: number; cpu: number[]; rss: number[] }
const rows: Row[] = []

/**
 * untilEach polls every agent on its own, every `intervalMs`, until `check` holds for it, and
 * stops polling that agent then: the bench's own API calls must not be what loads a starting
 * fleet (30 agents polled together every 20 ms is 1,500 requests a second on 2 cores). Returns
 * the ms from `t0` until the last agent held.
 */
async function untilEach<T>(what: string, agents: T[], check: (a: T) => Promise<boolean>, t0: number, timeoutMs: number, intervalMs: number): Promise<number> {
  return Math.max(...(await everyTime(what, agents, check, t0, timeoutMs, intervalMs)))
}

/** everyTime returns, per agent, the ms from t0 until `check` first held for it. */
async function everyTime<T>(what: string, agents: T[], check: (a: T) => Promise<boolean>, t0: number, timeoutMs: number, intervalMs: number): Promise<number[]> {
  return Promise.all(
    agents.map(async (a, i) => {
      await waitFor(`${what} (#${i + 1})`, () => check(a), timeoutMs - (Date.now() - t0), intervalMs)
      return Date.now() - t0
    }),
  )
}
/** logLines returns the lines of an agent's log that contain `needle`, parsed (a line that is not JSON is skipped). */
async function logLines(a: TestAgent, needle: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(a.dir, 'agent.log'), 'utf8').catch(() => '')
  const out: Record<string, unknown>[] = []
  for (const raw of text.split('\n')) {
    if (!raw.includes(needle)) continue
    try {
      out.push(JSON.parse(raw) as Record<string, unknown>)
    } catch {
      continue
    }
  }
  return out
}

/** timeOf is a log line's time in ms since the epoch (the agent logs ISO times with milliseconds, agent/log.ts), NaN without one. */
const timeOf = (line: Record<string, unknown>): number => (typeof line.time === 'string' ? Date.parse(line.time) : Number.NaN)

/**
 * loggedAt returns when the agent logged `msg` (pino's time, ms since the epoch) for the
 * first time at or after `since` with fields for which `match` holds, or undefined.
 */
async function loggedAt(a: TestAgent, msg: string, match: (line: Record<string, unknown>) => boolean, since: number): Promise<number | undefined> {
  for (const line of await logLines(a, msg)) {
    const at = timeOf(line)
    if (line.msg === msg && at >= since && match(line)) return at
  }
  return undefined
}

/**
 * untilEachLogged reads every agent's log every 250 ms until `at` gives a time for each (the
 * time of the log line that settled it), and returns those times. Reading the logs costs the
 * agents nothing: polling 30 agents' APIs every 250 ms while timing them was 120 requests a
 * second on the cores they share.
 */
async function untilEachLogged(what: string, agents: TestAgent[], at: (a: TestAgent) => Promise<number | undefined>, timeoutMs: number): Promise<Map<TestAgent, number>> {
  const times = new Map<TestAgent, number>()
  await waitFor(what, async () => {
    for (const a of agents) {
      if (times.has(a)) continue
      const t = await at(a)
      if (t !== undefined) times.set(a, t)
    }
    return times.size === agents.length
  }, timeoutMs, 250)
  return times
}

/** lastOf returns the latest of `times` as ms from `since`, and whose it was. */
function lastOf(times: Map<TestAgent, number>, since: number): { ms: number; who: string } {
  let worst = { ms: Number.NEGATIVE_INFINITY, who: '' }
  for (const [a, t] of times) if (t - since > worst.ms) worst = { ms: t - since, who: a.name }
  return worst
}

/** What a membership log line says of its peer: Alive (joined, or back), or not. */
const MEMBER_STATE: Record<string, boolean> = { 'node joined': true, 'node is back': true, 'node unreachable': false, 'node left': false, 'node forgotten': false }

/**
 * fullAt returns when `a`'s log first showed every one of `peers` Alive at once (its API's
 * state: joined or back, and not Unreachable, Left or forgotten since; a suspected member is
 * Alive), or undefined when it has not yet. The log, not the API: polling 20 or 30 agents'
 * node lists every 250 ms was itself load on the agents while they joined.
 */
async function fullAt(a: TestAgent, peers: readonly string[]): Promise<number | undefined> {
  const alive = new Set<string>()
  for (const line of await logLines(a, '"component":"membership"')) {
    const state = MEMBER_STATE[String(line.msg)]
    if (state === undefined || typeof line.peer !== 'string') continue
    if (state) alive.add(line.peer)
    else alive.delete(line.peer)
    if (alive.size === peers.length && peers.every((p) => alive.has(p))) return timeOf(line)
  }
  return undefined
}

async function daemonmesh(n: number, last: boolean, who = 'daemonmesh', bin?: string): Promise<void> {
  // The agent's own defaults for every timing, and its default log level.
  const cluster = await TestCluster.create('bench', 0)
  cluster.logLevel = 'info'
  // Many agents started at once on a loaded machine can take minutes to load their code.
  cluster.apiTimeoutMs = 300_000
  cluster.heartbeat = ''
  cluster.antiEntropy = ''
  // Each build as its production runs it: the Node flags of its own `npm start`.
  const nodeArgs = await nodeFlags(bin === undefined ? REPO : join(dirname(bin), '..'))
  // Open admission for both (an earlier build is left to its default otherwise, and one that
  // enforces admission would keep every agent Pending).
  const spec = bin === undefined ? { nodeArgs } : { bin, nodeArgs, admission: 'open' as const }
  try {
    // All at once against the first one's address: "started together".
    const first = await cluster.agent({ name: 'b-1', ...spec }).start()
    const boot = await first.address()
    const rest = await Promise.all(Array.from({ length: n - 1 }, (_, i) => cluster.agent({ name: `b-${i + 2}`, bootstrap: [boot], ...spec }).start()))
    const agents = [first, ...rest]
    // Each agent's log is read every 250 ms until it shows all n Alive (a later flap is not
    // counted); the time is that of the log line that completed it.
    const t0 = Date.now()
    const full = await untilEachLogged('full membership', agents, (a) => fullAt(a, agents.filter((b) => b !== a).map((b) => b.name)), 300_000)
    const membershipMs = Math.max(0, lastOf(full, t0).ms)
    if (DAEMONSETS > 0) await daemonSets(cluster, agents)
    const m = await idle(agents.map((a) => a.proc?.pid ?? 0))
    rows.push({ who, n, membershipMs, ...m })
    out(`${who} ${n}: membership ${membershipMs} ms, idle CPU ${mean(m.cpu).toFixed(1)} ms/s, RSS ${mean(m.rss).toFixed(0)} MiB`)
    if (last) await extras(cluster, agents, who === 'daemonmesh' ? '' : `${who}: `)
  } finally {
    await cluster.stopAll()
  }
}

/** daemonSets applies DAEMONSETS DaemonSets through the first agent and waits until every store holds them. */
async function daemonSets(cluster: TestCluster, agents: TestAgent[]): Promise<void> {
  const f = join(cluster.root, 'idle-daemonsets.yaml')
  await writeFile(f, Array.from({ length: DAEMONSETS }, (_, i) => manifest(`idle-${i}`)).join('---\n'))
  const code = await cli(['apply', '-f', f, '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile], quiet, process.stderr)
  if (code !== 0) throw new Error(`apply of ${DAEMONSETS} DaemonSets failed with ${code}`)
  await untilEach(`${DAEMONSETS} DaemonSets everywhere`, agents, async (a) => (await a.health()).storeEntries >= 2 * DAEMONSETS, Date.now(), 120_000, 250)
}

/** extras times apply -> every store, a SIGKILLed agent and a frozen one, at the largest size; its lines start with `label` (the baseline's name). */
async function extras(cluster: TestCluster, agents: TestAgent[], label: string): Promise<void> {
  const n = agents.length
  const latencies: number[] = []
  const rounds: string[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const f = join(cluster.root, `bench-${r}.yaml`)
    await writeFile(f, manifest(`bench-${r}`))
    const origin = agents[r % n] as TestAgent
    const t0 = Date.now()
    const code = await cli(['apply', '-f', f, '--agent', origin.target.address, '--key', cluster.operatorKeyFile], quiet, process.stderr)
    if (code !== 0) throw new Error(`apply failed with ${code}`)
    const cliMs = Date.now() - t0
    // Both of the apply's entries (the DaemonSet and its history) stored, by each agent's log.
    const keys = [`ds/default/bench-${r}`, `history/default/bench-${r}`]
    const stored = await untilEachLogged(`bench-${r} everywhere`, agents, async (a) => {
      const times = await Promise.all(keys.map((k) => loggedAt(a, 'store changed', (l) => l.key === k, t0)))
      return times.some((t) => t === undefined) ? undefined : Math.max(...(times as number[]))
    }, 30_000)
    const last = lastOf(stored, t0)
    latencies.push(last.ms)
    rounds.push(`${last.ms} (CLI ${cliMs}, last ${last.who})`)
  }
  out(`${label}apply -> every store (${n} agents, ${ROUNDS} rounds, from the CLI's start to the last agent's log of the change): p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms`)
  out(`${label}  each round, ms: ${rounds.join(', ')}`)
  const victim = agents[n - 1] as TestAgent
  const others = agents.slice(0, n - 2)
  let t0 = Date.now()
  await victim.stop('SIGKILL')
  const killed = lastOf(await untilEachLogged('the killed agent Unreachable', others, (a) => loggedAt(a, 'node unreachable', (l) => l.peer === victim.name, t0), 120_000), t0)
  out(`${label}SIGKILLed agent Unreachable on every other (by their logs): ${killed.ms} ms (last ${killed.who})`)
  // Frozen (SIGSTOP): nothing answers and no connection is reset, as with a cut link. (On
  // loopback a firewall rule cannot cut one process's outbound connections; the e2e tier
  // cuts links of namespace hosts.)
  const frozen = agents[n - 2] as TestAgent
  frozen.proc?.kill('SIGSTOP')
  try {
    t0 = Date.now()
    const frozenAt = lastOf(await untilEachLogged('the frozen agent Unreachable', others, (a) => loggedAt(a, 'node unreachable', (l) => l.peer === frozen.name, t0), 120_000), t0)
    out(`${label}frozen agent (SIGSTOP, no reset) Unreachable on every other (by their logs): ${frozenAt.ms} ms (last ${frozenAt.who})`)
  } finally {
    frozen.proc?.kill('SIGCONT')
  }
}

async function serf(n: number): Promise<void> {
  const base = 17_000 + Math.floor(Math.random() * 1000) * 10
  const procs: ChildProcess[] = []
  const members = async (i: number): Promise<number> => {
    const { stdout } = await run('serf', ['members', '-status=alive', `-rpc-addr=127.0.0.1:${base + 5000 + i}`])
    return stdout.split('\n').filter((l) => l.trim() !== '').length
  }
  try {
    for (let i = 0; i < n; i++) {
      const args = ['agent', `-node=s-${i}`, `-bind=127.0.0.1:${base + i}`, `-rpc-addr=127.0.0.1:${base + 5000 + i}`, '-log-level=err', ...(i === 0 ? [] : [`-join=127.0.0.1:${base}`])]
      procs.push(spawn('serf', args, { stdio: 'ignore' }))
      if (i === 0) await waitFor('serf 0', () => members(0), 10_000, 50)
    }
    await waitFor('serf agents answer', async () => (await Promise.all(procs.map((_, i) => members(i).catch(() => 0)))).every((c) => c > 0), 30_000, 50)
    // Polled as the agents are: each every 250 ms until it lists all n.
    const t0 = Date.now()
    const membershipMs = await untilEach('serf full membership', procs.map((_, i) => i), async (i) => (await members(i).catch(() => 0)) === n, t0, 60_000, 250)
    const m = await idle(procs.map((p) => p.pid ?? 0))
    rows.push({ who: 'serf', n, membershipMs, ...m })
    out(`serf ${n}: membership ${membershipMs} ms, idle CPU ${mean(m.cpu).toFixed(1)} ms/s, RSS ${mean(m.rss).toFixed(0)} MiB`)
  } finally {
    for (const p of procs) p.kill('SIGKILL')
  }
}

if (values.serf) {
  // Checked before anything starts, not when the first Serf agent fails to spawn.
  await run('serf', ['version']).catch(() => {
    process.stderr.write('bench: serf not found on PATH: install it (Debian: apt-get install serf) or pass --no-serf\n')
    process.exit(2)
  })
}
const baselineFlags = values.baseline === undefined ? '' : `, baseline with ${(await nodeFlags(values.baseline)).join(' ') || 'no flag'}`
out(`sizes ${SIZES.join(', ')}; idle window ${IDLE_S} s from ${SETTLE_S} s after full membership${DAEMONSETS > 0 ? ` and ${DAEMONSETS} DaemonSets applied` : ''}; agents with ${(await nodeFlags(REPO)).join(' ') || 'no flag'}${baselineFlags}`)
for (const [i, n] of SIZES.entries()) {
  await daemonmesh(n, i === SIZES.length - 1)
  if (values.baseline !== undefined) await daemonmesh(n, i === SIZES.length - 1, 'baseline', join(values.baseline, 'bin/daemonmesh.js'))
  if (values.serf) await serf(n)
}
const whos = ['daemonmesh', ...(values.baseline === undefined ? [] : ['baseline']), ...(!values.serf ? [] : ['serf'])]
out(`\n| agents ${whos.map((w) => `| ${w}: idle CPU/agent | RSS/agent | full membership `).join('')}|`)
out(`|---${whos.map(() => '|---|---|---').join('')}|`)
for (const n of SIZES) {
  const cell = (r: Row | undefined): string => (r === undefined ? '| - | - | - ' : `| ${mean(r.cpu).toFixed(1)} ms/s | ${mean(r.rss).toFixed(0)} MiB | ${(r.membershipMs / 1000).toFixed(2)} s `)
  out(`| ${n} ${whos.map((w) => cell(rows.find((r) => r.who === w && r.n === n))).join('')}|`)
}
const small = rows.find((r) => r.who === 'daemonmesh' && r.n === SIZES[0])
const at20 = rows.find((r) => r.who === 'daemonmesh' && r.n === 20)
if (small !== undefined && at20 !== undefined) out(`idle CPU at 20 agents / at ${small.n}: ${(mean(at20.cpu) / mean(small.cpu)).toFixed(2)}x`)
