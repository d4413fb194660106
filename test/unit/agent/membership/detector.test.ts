// SWIM failure detection on the in-memory transport and the virtual clock: probes, indirect
// probes, suspicion and its timeout, refutation, connection hints, partitions, and the
// message count per agent, which must not grow with the fleet.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { AgentClock } from '../../../../agent/clock.js'
import { withTimings } from '../../../../agent/defaults.js'
import type { StateFingerprint } from '../../../../agent/membership/detector.js'
import { Membership, type NodeState } from '../../../../agent/membership/membership.js'
import { Metrics } from '../../../../agent/metrics.js'
import { Topics } from '../../../../agent/network/constants.js'
import { generateKeyPair, parsePrivateKey } from '../../../../core/keys.js'
import { StoreKey } from '../../../../core/keyspace.js'
import type { NodeRecord } from '../../../../core/node-record.js'
import { MemoryHub, type MemoryTransport } from '../../../helpers/memory-transport.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'
import { seeded } from '../../../helpers/seeded.js'

const PERIOD = 1000

interface Member {
  name: string
  keyId: string
  peerId: string
  transport: MemoryTransport
  membership: Membership
}


/** fleet starts n members on one hub and one virtual clock, each bootstrapping from the first. */
function fleet(n: number, o: { suspicionMs?: number; forgetMs?: number; seed?: number; state?: (name: string) => StateFingerprint } = {}): { clock: VirtualClock; hub: MemoryHub; members: Member[] } {
  const clock = new VirtualClock()
  const hub = new MemoryHub(clock)
  const random = seeded(o.seed ?? 42)
  const members: Member[] = []
  for (let i = 1; i <= n; i++) {
    const name = `n${i}`
    const key = generateKeyPair()
    const transport = hub.join(`peer-${name}`, key.id)
    const membership = new Membership({
      transport,
      clock,
      hlc: new AgentClock(clock),
      signingKey: parsePrivateKey(key.privateKeyPem),
      keyId: key.id,
      self: { name, labels: {}, taints: [], version: 'test' },
      heartbeatMs: PERIOD,
      suspicionMs: o.suspicionMs ?? 3000,
      forgetMs: o.forgetMs ?? 300_000,
      targetPeers: 3,
      bootstrap: members[0]?.transport.addresses() ?? [],
      timings: withTimings(),
      random,
      ...(o.state === undefined ? {} : { state: o.state(name) }),
      metrics: new Metrics(),
      log: pino({ level: 'silent' }),
    })
    members.push({ name, keyId: key.id, peerId: transport.peerId, transport, membership })
  }
  for (const m of members) m.membership.start()
  return { clock, hub, members }
}

const stateAt = (viewer: Member, of: Member): NodeState | undefined => viewer.membership.nodes().find((n) => n.keyId === of.keyId)?.state
const others = (members: Member[], ...not: Member[]): Member[] => members.filter((m) => !not.includes(m))
const stop = (members: Member[]): void => members.forEach((m) => m.membership.stop())

describe('failure detection (SWIM)', () => {
  it('a member cut off without a reset is suspected by a probe, then Unreachable after the suspicion timeout; Alive while suspected', async (t) => {
    const { clock, hub, members } = fleet(5)
    const victim = members[4] as Member
    const rest = others(members, victim)
    await clock.advance(3 * PERIOD)
    assert.ok(rest.every((m) => stateAt(m, victim) === 'Alive'))
    hub.partition([victim.peerId])
    const cutAt = clock.mono()
    let suspectedAt: number | undefined
    while (suspectedAt === undefined && clock.mono() - cutAt < 10 * PERIOD) {
      await clock.advance(50)
      if (rest.some((m) => m.membership.suspected(victim.keyId))) suspectedAt = clock.mono()
    }
    assert.ok(suspectedAt !== undefined, 'suspected within 10 periods')
    // Each agent probes every other member once per round of 4 periods: someone reaches it within a round, plus the probe itself.
    assert.ok(suspectedAt - cutAt <= 5 * PERIOD + 50, `suspected ${suspectedAt - cutAt} ms after the cut`)
    t.diagnostic(`suspected ${suspectedAt - cutAt} ms after the cut`)
    await clock.advance(2800)
    assert.ok(rest.every((m) => stateAt(m, victim) === 'Alive'), 'a suspect is Alive to the API until the timeout')
    await clock.advance(1500)
    assert.deepEqual(rest.map((m) => stateAt(m, victim)), ['Unreachable', 'Unreachable', 'Unreachable', 'Unreachable'])
    assert.ok(rest.every((m) => others(rest, m).every((o) => stateAt(m, o) === 'Alive')), 'the others stay Alive')
    stop(members)
  })

  it('a suspected member that hears of it refutes with a higher incarnation and stays Alive', async () => {
    const { clock, members } = fleet(4)
    const [a, b, c] = members as [Member, Member, Member]
    await clock.advance(3 * PERIOD)
    await a.transport.publish(Topics.nodes, new TextEncoder().encode(JSON.stringify({ t: 'suspect', keyId: b.keyId, incarnation: 0 })))
    await clock.advance(0)
    assert.equal(b.membership.incarnation(), 1, 'b refuted at once')
    assert.equal((c.membership.records.value(StoreKey.nodeRecord(b.keyId)) as NodeRecord).incarnation, 1)
    assert.equal(c.membership.suspected(b.keyId), false, 'alive(1) overrides suspect(0)')
    await clock.advance(20 * PERIOD)
    assert.ok(others(members, b).every((m) => stateAt(m, b) === 'Alive'))
    stop(members)
  })

  it('a notice naming an incarnation above the member\'s own (2^31) is held to its own, so the member still refutes it', async () => {
    const { clock, members } = fleet(4)
    const [a, b, c] = members as [Member, Member, Member]
    await clock.advance(3 * PERIOD)
    const notice = (t: string, of: Member): Uint8Array => new TextEncoder().encode(JSON.stringify({ t, keyId: of.keyId, incarnation: 2 ** 31 }))
    await a.transport.publish(Topics.nodes, notice('failed', b))
    await a.transport.publish(Topics.nodes, notice('suspect', a))
    await clock.advance(0)
    assert.equal(b.membership.incarnation(), 1, 'b refuted at its own incarnation + 1, not above 2^31')
    await clock.advance(20 * PERIOD)
    assert.ok(others(members, b).every((m) => stateAt(m, b) === 'Alive'), 'b is Alive everywhere')
    assert.equal(stateAt(c, a), 'Alive')
    assert.ok(members.every((m) => m.membership.incarnation() <= 2), 'no incarnation was pushed up')
    stop(members)
  })

  it('a notice is relayed only when it changes the receiver\'s view', async () => {
    const { clock, members } = fleet(4)
    const [a, b, c, d] = members as [Member, Member, Member, Member]
    await clock.advance(3 * PERIOD)
    const notice = (t: string, of: Member, by: Member) => ({ topic: Topics.nodes, data: new TextEncoder().encode(JSON.stringify({ t, keyId: of.keyId, incarnation: 0 })), from: by.peerId, fromKeyId: by.keyId })
    // Seen from c: b is suspected, the suspicion confirmed, then failed.
    assert.equal(c.membership.validate(notice('suspect', b, a)), 'accept', 'a new suspicion')
    assert.equal(c.membership.validate(notice('suspect', b, a)), 'ignore', 'the same suspicion again')
    assert.equal(c.membership.validate(notice('suspect', b, d)), 'accept', 'a confirmation that counts')
    assert.equal(c.membership.validate(notice('failed', b, a)), 'accept', 'a failure')
    assert.equal(c.membership.validate(notice('failed', b, d)), 'ignore', 'a failure already known')
    assert.equal(c.membership.validate(notice('suspect', b, d)), 'ignore', 'a suspicion of a failed member')
    stop(members)
  })

  it('a member no one can probe but that hears gossip keeps refuting and is never Unreachable', async () => {
    const { clock, hub, members } = fleet(4)
    const d = members[3] as Member
    await clock.advance(3 * PERIOD)
    for (const m of others(members, d)) hub.cut(m.peerId, d.peerId)
    for (let i = 0; i < 30; i++) {
      await clock.advance(PERIOD)
      assert.ok(others(members, d).every((m) => stateAt(m, d) === 'Alive'), `Alive after ${i + 1} periods`)
    }
    assert.ok(d.membership.incarnation() > 0, 'it refuted')
    stop(members)
  })

  it('indirect probes save a member whose direct link to the prober is cut', async () => {
    const { clock, hub, members } = fleet(5)
    const [a, b] = members as [Member, Member]
    await clock.advance(3 * PERIOD)
    hub.cut(a.peerId, b.peerId)
    const frames = a.transport.sent.frames
    for (let i = 0; i < 20; i++) {
      await clock.advance(PERIOD)
      assert.ok(members.every((m) => !m.membership.suspected(b.keyId) && !m.membership.suspected(a.keyId)), `no suspicion after ${i + 1} periods`)
    }
    assert.equal(b.membership.incarnation(), 0, 'b never had to refute')
    assert.equal(a.membership.incarnation(), 0)
    // 20 periods: 20 pings of a's own, plus ping-reqs to 3 helpers each time it reached b's turn.
    assert.ok(a.transport.sent.frames - frames > 20, 'a probed')
    // Only an indirect ack makes a hang up on its (dead) connection to b, which it cannot redial.
    assert.ok(!a.transport.connectedPeers().includes(b.peerId), 'a reached b through others, and hung up on the dead connection')
    stop(members)
  })

  it('a closed connection is a hint: the member is probed at once, not at its turn', async () => {
    const { clock, hub, members } = fleet(3)
    const [a, b, c] = members as [Member, Member, Member]
    await clock.advance(5.5 * PERIOD)
    assert.ok(a.transport.connectedPeers().includes(c.peerId) && b.transport.connectedPeers().includes(c.peerId))
    // A link cut without a reset is no hint: nothing happens before a probe reaches it.
    hub.partition([c.peerId])
    await clock.advance(0)
    assert.equal(a.membership.suspected(c.keyId) || b.membership.suspected(c.keyId), false)
    hub.heal()
    // A crash closes c's connections: both peers probe it now, mid-period, and suspect it.
    c.membership.stop()
    c.transport.close()
    await clock.advance(0)
    assert.equal(a.membership.suspected(c.keyId), true)
    assert.equal(b.membership.suspected(c.keyId), true)
    assert.equal(stateAt(a, c), 'Alive', 'a hint is never a verdict')
    // Two suspecters of three members: the timeout is the floor.
    await clock.advance(3000)
    assert.equal(stateAt(a, c), 'Unreachable')
    assert.equal(stateAt(b, c), 'Unreachable')
    stop(members)
  })

  it('a partition: each side finds the other Unreachable; after healing, everyone refutes and all are Alive again', async (t) => {
    // Seeds 4, 7, 8 and 17 are among the slowest of 120 tried (all Unreachable 23-24 periods
    // in, all Alive 2-9 periods after healing); 42 is the fixture's default.
    for (const seed of [42, 4, 7, 8, 17]) {
      const { clock, hub, members } = fleet(6, { seed })
      const left = members.slice(0, 3)
      const right = members.slice(3)
      await clock.advance(3 * PERIOD)
      hub.partition(left.map((m) => m.peerId), right.map((m) => m.peerId))
      // Half the fleet gone, every member's probes fail half the time: Lifeguard's awareness
      // stretches each member's period and probe timeout (up to awarenessMax + 1 times), so the
      // sweep over the other side takes longer than the suspicion timeout's 12 periods at most.
      // Over seeds 1-120 the last verdict came 12-35 periods in.
      const sidesApart = (): boolean => left.every((m) => right.every((r) => stateAt(m, r) === 'Unreachable')) && right.every((m) => left.every((l) => stateAt(m, l) === 'Unreachable'))
      let apartIn = 0
      while (!sidesApart() && apartIn < 60) {
        await clock.advance(PERIOD)
        apartIn++
      }
      for (const m of left) assert.deepEqual(right.map((r) => stateAt(m, r)), ['Unreachable', 'Unreachable', 'Unreachable'], `seed ${seed}: ${m.name} after ${apartIn} periods`)
      for (const m of right) assert.deepEqual(left.map((l) => stateAt(m, l)), ['Unreachable', 'Unreachable', 'Unreachable'], `seed ${seed}: ${m.name} after ${apartIn} periods`)
      hub.heal()
      let healedIn = 0
      while (!members.every((m) => others(members, m).every((o) => stateAt(m, o) === 'Alive')) && healedIn < 40) {
        await clock.advance(PERIOD)
        healedIn++
      }
      assert.ok(healedIn < 40, `seed ${seed}: all Alive again within 40 periods`)
      t.diagnostic(`seed ${seed}: the other side Unreachable ${apartIn} periods into the partition; all Alive again ${healedIn} periods after healing`)
      assert.ok(members.every((m) => m.membership.incarnation() > 0), `seed ${seed}: every member refuted the verdict of the other side`)
      stop(members)
    }
  })

  it('a long partition: links opened while it lasted stay dead, yet after healing all are Alive again within a few periods', async (t) => {
    // The in-memory hub keeps a channel opened across the partition silent for good, as a
    // stream opened over a black-holed path can stay (TCP's back-off, a NAT that forgot the
    // flow). Without dropping the link and the connection after a failed reconnect ping, these
    // seeds stayed split for more than 200 periods after healing.
    for (const seed of [2, 4, 6, 7, 11, 12]) {
      const { clock, hub, members } = fleet(6, { seed })
      await clock.advance(3 * PERIOD)
      hub.partition(members.slice(0, 3).map((m) => m.peerId), members.slice(3).map((m) => m.peerId))
      await clock.advance(60 * PERIOD)
      hub.heal()
      let healedIn = 0
      while (!members.every((m) => others(members, m).every((o) => stateAt(m, o) === 'Alive')) && healedIn < 3 * withTimings().membership.reconnectPeriods) {
        await clock.advance(PERIOD)
        healedIn++
      }
      assert.ok(members.every((m) => others(members, m).every((o) => stateAt(m, o) === 'Alive')), `seed ${seed}: all Alive again within ${healedIn} periods: ${members.map((m) => `${m.name}:${others(members, m).map((o) => stateAt(m, o)?.[0]).join('')}`).join(' ')}`)
      t.diagnostic(`seed ${seed}: all Alive again ${healedIn} periods after healing`)
      stop(members)
    }
  })

  it("a probe ack carries the responder's state fingerprint; a prober whose own differs is told which member to sync with", async () => {
    const prints = new Map<string, string>()
    const told: [string, string][] = []
    const { clock, members } = fleet(3, { state: (name) => ({ fingerprint: () => prints.get(name), differs: (peerId) => told.push([name, peerId]) }) })
    const [a, b, c] = members as [Member, Member, Member]
    for (const m of members) prints.set(m.name, '00000000aaaaaaaa')
    await clock.advance(6 * PERIOD)
    assert.equal(told.length, 0, 'equal fingerprints: nothing to do')
    prints.set(c.name, '11111111aaaaaaaa')
    await clock.advance(6 * PERIOD)
    const pairs = new Set(told.map(([by, peer]) => `${by}>${members.find((m) => m.peerId === peer)?.name}`))
    assert.ok(pairs.has(`${a.name}>${c.name}`) && pairs.has(`${b.name}>${c.name}`), `a and b found c different: ${[...pairs].join(' ')}`)
    assert.ok(pairs.has(`${c.name}>${a.name}`) && pairs.has(`${c.name}>${b.name}`), 'and c found them different')
    stop(members)
  })

  it('messages per agent per period do not grow from 5 to 50 members, and no record is sent in steady state', async (t) => {
    const perAgentPerPeriod = async (n: number): Promise<{ total: number; published: number }> => {
      const { clock, members } = fleet(n, { seed: n })
      await clock.advance(10 * PERIOD)
      for (const m of members) Object.assign(m.transport.sent, { published: 0, opened: 0, frames: 0 })
      const periods = 20
      await clock.advance(periods * PERIOD)
      const sum = members.reduce((s, m) => s + m.transport.sent.published + m.transport.sent.opened + m.transport.sent.frames, 0)
      const published = members.reduce((s, m) => s + m.transport.sent.published, 0)
      assert.ok(members.every((m) => others(members, m).every((o) => stateAt(m, o) === 'Alive')), `${n}: all Alive`)
      stop(members)
      return { total: sum / n / periods, published }
    }
    const small = await perAgentPerPeriod(5)
    const large = await perAgentPerPeriod(50)
    t.diagnostic(`messages per agent per period: ${small.total} at 5 members, ${large.total} at 50`)
    assert.equal(small.published, 0, 'no gossip in steady state (5)')
    assert.equal(large.published, 0, 'no gossip in steady state (50)')
    // One ping written on the prober's link to the member, one ack written back: about 2 per agent per period.
    assert.ok(small.total >= 1.5 && small.total <= 2.5, `5 members: ${small.total} messages per agent per period`)
    assert.ok(large.total <= small.total * 1.1, `50 members: ${large.total} vs ${small.total} at 5`)
  })
})
