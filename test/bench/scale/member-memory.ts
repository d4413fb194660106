// How much memory one host's membership holds per member: the bound on the simulator's size,
// since N simulated hosts each hold N members. Builds `hosts` real Membership instances (not
// started) and merges the same `members` signed records into each (as gossip would), then
// reports the heap growth per (host, member). Usage:
//   node --expose-gc dist/test/bench/scale/member-memory.js [hosts] [members]
// A benchmark tool, not a test.

import { pino } from 'pino'
import { AgentClock } from '../../../agent/clock.js'
import { defaultConfig } from '../../../agent/config.js'
import { defaultTimings } from '../../../agent/defaults.js'
import { Membership } from '../../../agent/membership/membership.js'
import { Metrics } from '../../../agent/metrics.js'
import { signEnvelope } from '../../../core/envelope.js'
import { generateKeyPair, parsePrivateKey } from '../../../core/keys.js'
import { StoreKey } from '../../../core/keyspace.js'
import { MemoryHub } from '../../helpers/memory-transport.js'
import { SimClock } from './sim-clock.js'
import { installVerifyCache } from './verify-cache.js'

const hosts = Number(process.argv[2] ?? 50)
const members = Number(process.argv[3] ?? 2000)
/** `shared`: every host merges the same parsed object (what an intern cache of parsed records would give), not its own parse. */
const shared = process.argv[4] === 'shared'
const gc = (globalThis as { gc?: () => void }).gc
const heap = (): number => {
  gc?.()
  return process.memoryUsage().heapUsed
}

installVerifyCache()
const clock = new SimClock()
const hub = new MemoryHub(clock)
const metrics = new Metrics()
const log = pino({ level: 'silent' })
const hlc = new AgentClock(clock)
const records = Array.from({ length: members }, (_, i) => {
  const key = generateKeyPair()
  const name = `mem-${i}`
  const record = { name, peerId: `peer-${name}`, addresses: [`/memory/peer-${name}/p2p/peer-${name}`], labels: {}, taints: [], conditions: [{ type: 'Ready', status: 'True' }], version: 'sim', state: 'alive', startedAt: clock.wall(), incarnation: 0, pods: {} }
  // Each host parses its own copy from the wire, as the gossip handler does.
  return JSON.stringify(signEnvelope(StoreKey.nodeRecord(key.id), record, hlc.now(), parsePrivateKey(key.privateKeyPem)))
})
const parsed: unknown[] = records.map((r) => JSON.parse(r))
const before = heap()
const all: Membership[] = []
for (let h = 0; h < hosts; h++) {
  const key = generateKeyPair()
  const m = new Membership({ transport: hub.join(`host-${h}`, key.id), clock, hlc: new AgentClock(clock), signingKey: parsePrivateKey(key.privateKeyPem), keyId: key.id, self: { name: `host-${h}`, labels: {}, taints: [], version: 'sim' }, heartbeatMs: 500, suspicionMs: 1000, forgetMs: 3_600_000, targetPeers: defaultConfig().targetPeers, bootstrap: [], timings: defaultTimings(), metrics, log })
  for (const [i, r] of records.entries()) m.merge(shared ? parsed[i] : JSON.parse(r), 'gossip')
  all.push(m)
}
const after = heap()
const per = (after - before) / (hosts * members)
console.log(`${hosts} hosts x ${members} members${shared ? ' (parsed records shared)' : ''}: heap +${((after - before) / 2 ** 20).toFixed(0)} MiB, ${per.toFixed(0)} bytes per (host, member); 10,000 hosts would hold ${((per * 1e8) / 2 ** 30).toFixed(1)} GiB of membership alone (${all.length} hosts kept)`)
