/**
 * A model of the fleet driving the real lease objects: N hosts, each with its own Voter
 * (and vote store) and Claimant; every message goes into a model network that fast-check
 * delivers late, out of order, to any subset of hosts, or never: a claimant's request to
 * each voter, and the voter's answer back to the claimant (a request/response pair whose
 * halves are each delayed or lost, as on a channel that times out); virtual time jumps; hosts
 * restart (remembering their votes, forgetting their attempts); the DaemonSet's revision
 * changes mid-rollout. A host is down from the moment its claimant's enter() returns true
 * until it releases (or restarts and starts its new copy). At no step may more hosts be
 * down than the limit. The same model with the acting rule removed from the voters' table
 * fails, which shows it can see a broken rule. With one Byzantine voter (it grants every
 * claim and acknowledges every act) the bound holds with quorums of ceil((n+f+1)/2) at f = 1
 * and breaks with plain majorities (f = 0). It holds too when a committee smaller than the
 * fleet decides (the hosts off it vote on nothing, not even their own claims).
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { pino } from 'pino'
import { SlotTable, type Hold, type LeaseMessage } from '../../../../core/lease.js'
import type { Timer } from '../../../../agent/clock.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Claimant } from '../../../../agent/lease/claimant.js'
import { Voter } from '../../../../agent/lease/voter.js'
import { MemoryVoteStore, type SavedVotes } from '../../../../agent/lease/votes.js'
import { DS, FakeClock, FakeFleet, daemonSet, flush, key, seeded, type Member } from './fakes.js'

const N = 5
const TTL = 10_000
const T = defaultTimings().lease
const POLL_MS = defaultTimings().reconciler.rolloutPollMs
const silent = pino({ level: 'silent' })

/** NoActingRule is a broken voter table: an acknowledged slot lapses after the TTL like any grant. */
class NoActingRule extends SlotTable {
  override busy(h: Hold, now: number): boolean {
    return now - h.grantedAt < this.ttlMs
  }
}

type Step =
  | { do: 'pass' | 'enter' | 'restart'; host: number }
  | { do: 'passAll' | 'bump' }
  | { do: 'up'; pick: number }
  | { do: 'deliver'; pick: number }
  | { do: 'deliverAll' | 'drop'; reach: boolean[] }
  | { do: 'wait'; dt: number; reach: boolean[] }

const host = fc.integer({ min: 0, max: N - 1 })
/** Which hosts messages reach: often everyone (the usual case), otherwise any subset (partitions). */
const reach = fc.oneof(fc.constant(Array.from({ length: N }, () => true)), fc.array(fc.boolean(), { minLength: N, maxLength: N }), fc.array(fc.boolean(), { minLength: N, maxLength: N }))
/** Time jumps: mostly within a claim's life, sometimes past the TTL. */
const dt = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 2 * TTL }))
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ do: fc.constant('pass' as const), host }) },
  { weight: 1, arbitrary: fc.constant({ do: 'passAll' as const }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('enter' as const), host }) },
  { weight: 3, arbitrary: fc.record({ do: fc.constant('up' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('restart' as const), host }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('deliverAll' as const), reach }) },
  { weight: 1, arbitrary: fc.record({ do: fc.constant('drop' as const), reach }) },
  { weight: 6, arbitrary: fc.record({ do: fc.constant('wait' as const), dt, reach }) },
  { weight: 1, arbitrary: fc.constant({ do: 'bump' as const }) },
)

/** While time passes, messages to reached hosts are delivered every this many ms. */
const SLICE_MS = 500

interface Host {
  keyId: string
  member: Member
  votes: MemoryVoteStore
  voter: Voter
  claimant: Claimant
  /** Its lease tick and its reconciler's poll. */
  timer: Timer
  /** The revision its reconciler last asked a slot for, and the one it is moving to while down. */
  target: string
  down: boolean
}

/** Model is how a run is set up: f (quorums of ceil((n+f+1)/2)), whether a host is a Byzantine voter (the last one on the committee), and the committee's size (default: every host). */
interface Model {
  f: number
  byzantine: boolean
  committee?: number
}

interface Outcome {
  /** The most hosts down at once. */
  mostDown: number
  /** A step found more hosts down than the limit. */
  overrun: boolean
}

/** run plays one fleet history and reports what it saw. */
async function run(limit: number, seed: number, steps: Step[], table: (ttl: number) => SlotTable, model: Model = { f: 1, byzantine: false }): Promise<Outcome> {
  const clock = new FakeClock()
  const members: Member[] = Array.from({ length: N }, (_, i) => ({ keyId: key(`h${i}`), name: `host-${i}` }))
  let image = 1
  const fleet = new FakeFleet(members, daemonSet(`busybox:1.${image}`, 1))
  fleet.limits = { unavailable: limit, surge: 0 }
  fleet.f = model.f
  if (model.committee !== undefined) fleet.size = model.committee
  /** The Byzantine host: it grants and acknowledges everything, and is not one of the hosts counted (it may go down as it likes). */
  const committee = new Set(fleet.committee(DS))
  const liar = model.byzantine ? members.findLastIndex((m) => committee.has(m.keyId)) : -1
  const current = (): string => fleet.revision(DS)!
  const old = 'r-before'
  // Turns as production counts them: a host's place, by name, among the hosts still to update.
  fleet.turn = (_ds, revision, self) => Math.max(0, members.filter((m) => m.pods?.[DS]?.revision !== revision).map((m) => m.name).sort().indexOf(self))
  for (const m of members) m.pods = { [DS]: { revision: old, ready: true } }
  const random = seeded(seed)
  /** In flight: one entry per message and recipient, delivered late, out of order, or never. */
  let network: { from: number; to: number; msg: LeaseMessage }[] = []
  const hosts: Host[] = []

  const make = (i: number, votes: MemoryVoteStore): Pick<Host, 'voter' | 'claimant' | 'timer'> => {
    const keyId = members[i]!.keyId
    // One life of the agent: once it restarts, this life's objects (a claimant's pending
    // timers, a save queued behind another) neither send nor write its votes, as a process
    // that died would not.
    const life = { alive: true }
    // Point to point: a request goes to the voters the claimant names, one entry each.
    const send = async (msg: LeaseMessage, voters: readonly string[]): Promise<void> => {
      if (!life.alive) return
      for (const v of voters) network.push({ from: i, to: members.findIndex((m) => m.keyId === v), msg })
    }
    const store = { load: () => votes.load(), save: async (data: SavedVotes) => (life.alive ? votes.save(data) : undefined) }
    const voter = new Voter({ table: table(TTL), keyId, fleet, votes: store, clock, timings: T, log: silent })
    const claimant = new Claimant({ keyId, selfName: () => members[i]!.name, ttlMs: TTL, timings: T, fleet, own: voter.own, clock, send, random, log: silent })
    const tick = clock.every(T.tickMs, () => {
      claimant.tick()
      voter.tick()
    })
    // The reconciler polls while an update waits (rolloutPollMs): a pass every second.
    const poll = clock.every(POLL_MS, () => pass(hosts[i]!))
    return { voter, claimant, timer: { cancel: () => ((life.alive = false), tick.cancel(), poll.cancel()) } }
  }
  for (let i = 0; i < N; i++) {
    const votes = new MemoryVoteStore()
    hosts.push({ keyId: members[i]!.keyId, member: members[i]!, votes, target: old, down: false, ...make(i, votes) })
  }

  /** deliver hands a message to its recipient as the Lease would: judge it, note its term, and send the answer back to the claimant. */
  const deliver = (m: { from: number; to: number; msg: LeaseMessage }): void => {
    const from = members[m.from]!.keyId
    const h = hosts[m.to]!
    const msg = m.msg
    if (m.to === liar) {
      const base = { ds: msg.ds, kind: msg.kind, slot: msg.slot, term: msg.term, to: from }
      if (msg.t === 'claim') network.push({ from: m.to, to: m.from, msg: { t: 'grant', ...base } })
      if (msg.t === 'act') network.push({ from: m.to, to: m.from, msg: { t: 'ack', ...base } })
      return
    }
    if (msg.t === 'claim' || msg.t === 'act' || msg.t === 'release') {
      void h.voter.hear(from, msg).then((reply) => void (reply !== undefined && network.push({ from: m.to, to: m.from, msg: reply })))
    } else {
      h.claimant.hear(from, msg)
    }
  }
  /** deliverTo delivers, in order, every message in flight to a reached host. */
  const deliverTo = (to: boolean[]): void => {
    const now = network.filter((m) => to[m.to] === true)
    network = network.filter((m) => to[m.to] !== true)
    for (const m of now) deliver(m)
  }
  const setDown = (h: Host, down: boolean): void => {
    h.down = down
    h.member.pods = { [DS]: { revision: down ? old : h.target, ready: !down } }
  }

  /** pass is what a reconciler pass does: a host whose copy is not current claims; once granted, it enters. */
  const pass = (h: Host): void => {
    if (h === hosts[liar]) return
    if (!h.down && h.member.pods?.[DS]?.revision === current()) return
    if (!h.down) h.target = current()
    h.claimant.claim(DS, h.target, 'unavailable')
    if (h.claimant.status(DS).phase === 'granted' && h.claimant.enter(DS)) setDown(h, true)
  }

  let mostDown = 0
  for (const s of steps) {
    switch (s.do) {
      case 'pass':
        pass(hosts[s.host]!)
        break
      case 'passAll':
        for (const h of hosts) pass(h)
        break
      case 'enter': {
        // A slow reconciler acting on the answer of an earlier pass.
        const h = hosts[s.host]!
        if (h.claimant.enter(DS) && !h.down) setDown(h, true)
        break
      }
      case 'up': {
        // A down host's new copy becomes available: it releases its slot.
        const down = hosts.filter((h) => h.down)
        const h = down[s.pick % Math.max(1, down.length)]
        if (h === undefined) break
        setDown(h, false)
        h.claimant.release(DS)
        break
      }
      case 'restart': {
        // The agent restarts: it remembers its votes, forgets its attempts, and starts a missing copy first.
        const h = hosts[s.host]!
        h.timer.cancel()
        Object.assign(h, make(s.host, h.votes))
        await h.voter.restore()
        if (h.down) setDown(h, false)
        break
      }
      case 'deliver': {
        if (network.length === 0) break
        const [m] = network.splice(s.pick % network.length, 1)
        deliver(m!)
        break
      }
      case 'deliverAll':
        deliverTo(s.reach)
        break
      case 'drop':
        network = network.filter((m) => s.reach[m.to] !== true)
        break
      case 'wait':
        // Time passes (ticks and reconciler polls fire); reached hosts get their messages promptly.
        for (let left = s.dt; left > 0; left -= SLICE_MS) {
          clock.advance(Math.min(SLICE_MS, left))
          await flush()
          deliverTo(s.reach)
          if (hosts.filter((h) => h.down).length > limit) return { mostDown: limit + 1, overrun: true }
        }
        break
      case 'bump':
        // A new revision mid-rollout: attempts for the old one are abandoned.
        fleet.daemonSets.set(DS, daemonSet(`busybox:1.${++image}`, 1))
        break
    }
    await flush()
    const down = hosts.filter((h) => h.down).length
    mostDown = Math.max(mostDown, down)
    if (down > limit) return { mostDown, overrun: true }
  }
  for (const h of hosts) h.timer.cancel()
  return { mostDown, overrun: false }
}

const limits = fc.integer({ min: 1, max: 2 })
const seeds = fc.integer({ min: 0, max: 0x7fffffff })
const histories = fc.array(step, { minLength: 1, maxLength: 80, size: 'max' })

/** holds runs `runs` random histories of `model` and asserts none overran, and that more than `filled` took the limit of hosts down. */
async function holds(model: Model, runs: number, filled: number): Promise<void> {
  let reachedLimit = 0
  await fc.assert(
    fc.asyncProperty(limits, seeds, histories, async (limit, seed, steps) => {
      const o = await run(limit, seed, steps, (ttl) => new SlotTable(ttl), model)
      if (o.mostDown === limit) reachedLimit++
      return !o.overrun
    }),
    { numRuns: runs },
  )
  assert.ok(reachedLimit > filled, `only ${reachedLimit} histories took the limit of hosts down`)
}

describe('lease slots (fleet model)', () => {
  // A model in which nobody ever acts proves nothing: many histories must fill every slot.
  it('never lets more hosts act at once than there are slots, whatever reaches whom', () => holds({ f: 1, byzantine: false }, 3000, 100))

  it('fails when the acting rule is removed (an acknowledged slot lapsing after the TTL)', async () => {
    const r = await fc.check(
      fc.asyncProperty(seeds, histories, async (seed, steps) => !(await run(1, seed, steps, (ttl) => new NoActingRule(ttl))).overrun),
      { numRuns: 3000 },
    )
    assert.equal(r.failed, true, 'the model found no history in which the broken rule takes two hosts down')
  })

  it('holds with a Byzantine voter that grants everything, with quorums of ceil((n+f+1)/2) at f = 1', () => holds({ f: 1, byzantine: true }, 3000, 100))

  it('holds when a committee of 4 of the 5 hosts decides, with a Byzantine member on it (f = 1)', () => holds({ f: 1, byzantine: true, committee: 4 }, 1500, 50))

  it('holds when a committee of 3 of the 5 hosts decides, whatever reaches whom (f = 0)', () => holds({ f: 0, byzantine: false, committee: 3 }, 1500, 50))

  it('fails with a Byzantine voter when quorums are plain majorities (f = 0)', async () => {
    const r = await fc.check(
      fc.asyncProperty(seeds, histories, async (seed, steps) => !(await run(1, seed, steps, (ttl) => new SlotTable(ttl), { f: 0, byzantine: true })).overrun),
      { numRuns: 3000 },
    )
    assert.equal(r.failed, true, 'the model found no history in which the lying voter takes two hosts down')
  })
})
