// `npm run bench`: starts N real agents on loopback (default 30) and prints p50/p99 time
// from an apply to every store holding it, the time to detect a killed node, and RSS per
// agent. Not a test: it asserts nothing and is not run by `npm test`.
//
//   npm run bench -- --agents 30 --rounds 20 --heartbeat 1s --suspicion 5s

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { main as cli } from '../../cli/main.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'
import { Writable } from 'node:stream'

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '20' },
    heartbeat: { type: 'string', default: '1s' },
    suspicion: { type: 'string', default: '5s' },
  },
})
const N = Number(values.agents)
const ROUNDS = Number(values.rounds)
const suspicionMs = Number.parseFloat(values.suspicion ?? '5') * (values.suspicion?.endsWith('ms') === true ? 1 : 1000)

const quiet = new Writable({ write: (_c, _e, cb) => cb() })
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN
}
const ms = (x: number): string => `${Math.round(x)} ms`

interface LogLine { time: string; msg: string; key?: string; source?: string; peer?: string; node: string }
async function logLines(a: TestAgent): Promise<LogLine[]> {
  const text = await readFile(join(a.dir, 'agent.log'), 'utf8')
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
}

const cluster = await TestCluster.create('bench', suspicionMs)
cluster.logLevel = 'info'
cluster.heartbeat = values.heartbeat ?? '1s'
cluster.antiEntropy = '2s'
process.stdout.write(`starting ${N} agents (heartbeat ${cluster.heartbeat}, suspicion ${suspicionMs} ms)...\n`)
try {
  const t0 = Date.now()
  const agents = await cluster.startMany('b', N)
  await waitFor('every agent to know every node', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === N), 180_000, 1000)
  process.stdout.write(`all ${N} agents see each other after ${ms(Date.now() - t0)}\n`)

  for (let r = 0; r < ROUNDS; r++) {
    const f = join(cluster.root, `bench-${r}.yaml`)
    await writeFile(f, manifest(`bench-${r}`))
    const origin = agents[r % N] as TestAgent
    const code = await cli(['apply', '-f', f, '--agent', origin.target.address, '--key', cluster.operatorKeyFile], quiet, process.stderr)
    if (code !== 0) throw new Error(`apply failed with ${code}`)
    // Each apply writes the DaemonSet and its revision history.
    await waitFor(`bench-${r} everywhere`, async () => (await Promise.all(agents.map(async (a) => (await a.health()).storeEntries))).every((n) => n === 2 * (r + 1)), 30_000, 100)
  }
  // Latency per round from the agents' own log timestamps (one machine, one clock).
  const logs = await Promise.all(agents.map(logLines))
  const latencies: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const seen = logs.map((lines) => lines.find((l) => l.msg === 'store changed' && l.key === `ds/default/bench-${r}`)).map((l) => Date.parse(l?.time ?? ''))
    const origin = logs.flat().find((l) => l.msg === 'store changed' && l.key === `ds/default/bench-${r}` && l.source === 'api')
    latencies.push(Math.max(...seen) - Date.parse(origin?.time ?? ''))
  }

  const rss = (await Promise.all(agents.map((a) => a.health()))).map((h) => h.rssBytes / 1048576)
  const victim = agents[N - 1] as TestAgent
  const killedAt = Date.now()
  await victim.stop('SIGKILL')
  await waitFor('the killed node Unreachable everywhere', async () => (await Promise.all(agents.slice(0, N - 1).map((a) => a.nodeState(victim.name)))).every((s) => s === 'Unreachable'), suspicionMs + 30_000, 200)
  const detect = (await Promise.all(agents.slice(0, N - 1).map(logLines)))
    .map((lines) => lines.find((l) => l.msg === 'node unreachable' && l.peer === victim.name))
    .map((l) => Date.parse(l?.time ?? '') - killedAt)

  process.stdout.write(`\nagents: ${N}, rounds: ${ROUNDS}\n`)
  process.stdout.write(`apply -> every store:   p50 ${ms(pct(latencies, 50))}   p99 ${ms(pct(latencies, 99))}   max ${ms(Math.max(...latencies))}\n`)
  process.stdout.write(`killed node detected:   first ${ms(Math.min(...detect))}   last ${ms(Math.max(...detect))}   (suspicion window ${suspicionMs} ms)\n`)
  process.stdout.write(`RSS per agent:          mean ${(rss.reduce((a, b) => a + b, 0) / rss.length).toFixed(0)} MiB   max ${Math.max(...rss).toFixed(0)} MiB\n`)
} finally {
  await cluster.stopAll()
}
