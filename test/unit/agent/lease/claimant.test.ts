import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SlotTable, type ClaimMessage, type LeaseMessage } from '../../../../core/lease.js'
import { revisionOf } from '../../../../core/revision.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Claimant } from '../../../../agent/lease/claimant.js'
import { Voter } from '../../../../agent/lease/voter.js'
import { MemoryVoteStore } from '../../../../agent/lease/votes.js'
import { DS, FakeClock, FakeFleet, flush, key, logSink, recorder } from './fakes.js'

const TTL = 10_000
const A = key('a')
const B = key('b')
const C = key('c')
const T = defaultTimings().lease

function setup(turn = 0, name = 'host-a') {
  const clock = new FakeClock()
  const fleet = new FakeFleet([
    { keyId: A, name },
    { keyId: B, name: 'host-b' },
    { keyId: C, name: 'host-c' },
  ])
  fleet.turns[name] = turn
  // Plain majorities (f = 0): these cases are about the claimant's phases; quorum sizes are core's (test/unit/core/lease.test.ts).
  fleet.f = 0
  const rec = recorder()
  const sink = logSink()
  const votes = new MemoryVoteStore()
  const voter = new Voter({ table: new SlotTable(TTL), keyId: A, fleet, votes, clock, timings: T, log: sink.log })
  // random(n) = 0: the shortest jitter (jitterMinMs) and the first free slot.
  const claimant = new Claimant({ keyId: A, selfName: () => name, ttlMs: TTL, timings: T, fleet, own: voter.own, clock, send: rec.send, random: () => 0, log: sink.log })
  const revision = revisionOf(fleet.daemonSet(DS)!)
  const granted: string[] = []
  claimant.onGranted((ds) => granted.push(ds))

  /** claimed waits out the turn (its fallback: jitter plus turnSpacingMs a place, when no slot comes to it sooner) and sends the claim; returns it. */
  const claimed = async (): Promise<ClaimMessage> => {
    claimant.claim(DS, revision, 'unavailable')
    if (turn > 0) clock.advance(T.jitterMinMs + turn * T.turnSpacingMs)
    await flush()
    const c = rec.sent.find((m) => m.t === 'claim')
    assert.ok(c !== undefined, 'a claim was sent')
    return c as ClaimMessage
  }
  const answer = (t: 'grant' | 'ack', from: string, c: ClaimMessage) => claimant.hear(from, { t, ds: c.ds, kind: c.kind, slot: c.slot, term: c.term, to: A })
  /** toGranted claims, gets B's grant and then B's ack. */
  const toGranted = async (): Promise<ClaimMessage> => {
    const c = await claimed()
    answer('grant', B, c)
    await flush()
    answer('ack', B, c)
    return c
  }
  return { clock, fleet, voter, votes, claimant, sent: rec.sent, sink, revision, granted, claimed, answer, toGranted }
}

describe('lease claimant', () => {
  it('the first in line claims at once, with no jitter', async () => {
    const { claimant, sent, revision } = setup(0)
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    assert.deepEqual(
      sent.map((m) => m.t),
      ['claim'],
    )
  })

  it('a host behind the free slots waits for its turn (jitter plus turnSpacingMs a place), on its own timer', async () => {
    const { claimant, clock, sent, revision } = setup(2)
    claimant.claim(DS, revision, 'unavailable')
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'waiting for its turn' })
    clock.advance(T.jitterMinMs + 2 * T.turnSpacingMs - 1)
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    assert.equal(sent.length, 0)
    clock.advance(1)
    await flush()
    assert.deepEqual(
      sent.map((m) => m.t),
      ['claim'],
      'the timer claims without another call from the reconciler',
    )
  })

  it('at its fallback time it leaves a slot that just freed to the head of the line: it takes only one free for turnSpacingMs', async () => {
    const { claimant, clock, fleet, voter, sent, revision } = setup(2)
    const ref = { ds: DS, kind: 'unavailable' as const, slot: 0, term: 1 }
    await voter.hear(B, { t: 'claim', ...ref, revision, view: fleet.voterView().view })
    await voter.hear(B, { t: 'act', ...ref })
    claimant.claim(DS, revision, 'unavailable')
    const fallback = T.jitterMinMs + 2 * T.turnSpacingMs
    clock.advance(fallback - 100)
    await voter.hear(B, { t: 'release', ...ref })
    claimant.wake(DS)
    clock.advance(100)
    await flush()
    assert.equal(sent.length, 0, 'freed 100 ms ago: the host at the head of the line takes it')
    clock.advance(T.turnSpacingMs - 100)
    await flush()
    assert.deepEqual(
      sent.map((m) => m.t),
      ['claim'],
      'still free after turnSpacingMs: nobody ahead took it',
    )
  })

  it('hosts of one round claim at once, each the free slot of its place', async () => {
    const { claimant, fleet, sent, revision } = setup(2)
    fleet.limits.unavailable = 3
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    assert.equal(sent.length, 1)
    assert.equal((sent[0] as ClaimMessage).slot, 2)
  })

  it('a release heard wakes a host waiting in line: it claims then, not at its fallback time', async () => {
    const { claimant, fleet, sent, revision } = setup(1)
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    assert.equal(sent.length, 0)
    fleet.turns['host-a'] = 0
    claimant.wake(DS)
    await flush()
    assert.deepEqual(
      sent.map((m) => m.t),
      ['claim'],
    )
  })

  it('forgets a wish once its copy is current (replaced without a slot): no claim follows', async () => {
    const { claimant, clock, fleet, sent, revision } = setup(1)
    claimant.claim(DS, revision, 'unavailable')
    fleet.members[0] = { ...fleet.members[0]!, pods: { [DS]: { revision, ready: true } } }
    clock.advance(10 * T.turnSpacingMs)
    await flush()
    assert.equal(sent.length, 0)
    assert.deepEqual(claimant.status(DS), { phase: 'idle' })
  })

  it('abandons a claim at once when a majority refused it, freeing its own vote', async () => {
    const { claimant, sent, voter, claimed } = setup()
    const c = await claimed()
    claimant.hear(B, { t: 'refuse', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term, to: A, reason: 'slot 0 held by host-x' })
    assert.equal(sent.at(-1)?.t, 'claim', 'one refusal of three: a majority can still grant it')
    claimant.hear(C, { t: 'refuse', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term, to: A, reason: 'slot 0 held by host-x' })
    await flush()
    assert.deepEqual(sent.at(-1), { t: 'release', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term })
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'slot 0 held by host-x' })
    assert.deepEqual(voter.slots(), [])
  })

  it('after a refused claim it is back in line after a jitter, and the jitter doubles with each refusal in a row', async () => {
    const { claimant, clock, fleet, sent, claimed } = setup(2)
    fleet.limits.unavailable = 3
    const refuse = async (term: number, slot: number): Promise<void> => {
      for (const from of [B, C]) claimant.hear(from, { t: 'refuse', ds: DS, kind: 'unavailable', slot, term, to: A, reason: 'slot 2 held by host-x' })
      await flush()
      assert.equal(sent.at(-1)?.t, 'release')
    }
    /** wakeAfter lets `ms` pass, then wakes the claimant as a release would. */
    const wakeAfter = async (ms: number): Promise<void> => {
      clock.advance(ms)
      claimant.wake(DS)
      await flush()
    }
    const c = await claimed()
    await refuse(c.term, c.slot)
    claimant.wake(DS)
    await flush()
    assert.equal(sent.at(-1)?.t, 'release', 'no claim while it cools')
    await wakeAfter(T.jitterMinMs)
    const again = sent.at(-1) as typeof c
    assert.deepEqual(again, { ...c, term: again.term }, 'its fallback (jitter plus 2 places) has not come: the line let it claim')
    assert.ok(again.term > c.term, 'under a higher term')
    await refuse(again.term, c.slot)
    await wakeAfter(T.jitterMinMs)
    assert.equal(sent.at(-1)?.t, 'release', 'refused twice in a row: it cools for twice the jitter')
    await wakeAfter(T.jitterMinMs)
    const third = sent.at(-1) as typeof c
    assert.deepEqual(third, { ...c, term: third.term }, 'back in line after twice the jitter, still before its fallback')
    assert.ok(third.term > again.term, 'under a higher term again')
  })

  it('yields at once to a host ahead in line (by name) that claimed the same slot, and cools only a plain jitter', async () => {
    const { claimant, clock, sent, voter, sink, claimed } = setup(0, 'host-z')
    const c = await claimed()
    // B (host-b, ahead of host-z) claimed the same slot at once: this host's own voter refused it.
    const rivalClaim = { ...c }
    const reply = await voter.hear(B, rivalClaim)
    assert.equal(reply?.t, 'refuse', 'the own voter holds our claim')
    claimant.rival(B, rivalClaim)
    await flush()
    assert.deepEqual(sent.at(-1), { t: 'release', ds: DS, kind: c.kind, slot: c.slot, term: c.term }, 'it gave its votes back at once')
    assert.ok(sink.msgs().includes('claim yielded to a host ahead in line'))
    assert.match((claimant.status(DS) as { why: string }).why, /yielded slot 0 to host-b, ahead in line/)
    assert.deepEqual(voter.slots(), [], 'its own vote is free for the host ahead')
    // Yielding is no failure: after one plain jitter it is back in line.
    clock.advance(T.jitterMinMs)
    claimant.wake(DS)
    await flush()
    assert.equal(sent.at(-1)?.t, 'claim')
    assert.equal((sent.at(-1) as ClaimMessage).term, c.term + 1)
  })

  it('keeps its claim against a host behind it in line, and after losing the split claims again at the next wake, without cooling', async () => {
    const { claimant, sent, voter, claimed } = setup(0, 'host-a')
    const c = await claimed()
    const rivalClaim = { ...c }
    await voter.hear(B, rivalClaim)
    claimant.rival(B, rivalClaim)
    await flush()
    assert.equal(sent.at(-1)?.t, 'claim', 'host-b is behind host-a: host-a keeps its claim')
    // B's claim reached the other voter first: a majority can no longer grant ours.
    claimant.hear(C, { t: 'refuse', ds: DS, kind: c.kind, slot: c.slot, term: c.term, to: A, reason: 'slot 0 held by host-b' })
    claimant.hear(B, { t: 'refuse', ds: DS, kind: c.kind, slot: c.slot, term: c.term, to: A, reason: 'slot 0 held by host-b' })
    await flush()
    assert.equal(sent.at(-1)?.t, 'release')
    // host-b yields (its release wakes this host): it claims again at once, under a new term.
    claimant.wake(DS)
    await flush()
    assert.equal(sent.at(-1)?.t, 'claim', 'no cooling after losing only to a host behind')
    assert.equal((sent.at(-1) as ClaimMessage).term, c.term + 1)
  })

  it('ignores a rival claim it cannot lose to: another slot, another revision or voter set, a host not eligible, or once a majority granted', async () => {
    const { claimant, fleet, sent, answer, claimed } = setup(0, 'host-z')
    fleet.limits.unavailable = 2
    const c = await claimed()
    claimant.rival(B, { ...c, slot: 1 })
    claimant.rival(B, { ...c, revision: 'other' })
    claimant.rival(B, { ...c, view: 'other' })
    fleet.members[1] = { keyId: B, name: 'host-b', pods: {} }
    claimant.rival(B, { ...c })
    await flush()
    assert.equal(sent.at(-1)?.t, 'claim', 'nothing to yield to')
    fleet.members[1] = { keyId: B, name: 'host-b' }
    answer('grant', C, c)
    await flush()
    assert.equal(sent.at(-1)?.t, 'act')
    claimant.rival(B, { ...c })
    await flush()
    assert.equal(sent.at(-1)?.t, 'act', 'a majority granted: the host behind cannot win it')
  })

  it('leaves the hosts that released their slot (their record may lag) out of its line', async () => {
    const { claimant, fleet, voter, revision } = setup(1)
    const hear = (msg: Parameters<typeof voter.hear>[1]) => voter.hear(B, msg)
    const ref = { ds: DS, kind: 'unavailable' as const, slot: 0, term: 1 }
    await hear({ t: 'claim', ...ref, revision, view: fleet.voterView().view })
    await hear({ t: 'act', ...ref })
    await hear({ t: 'release', ...ref })
    claimant.claim(DS, revision, 'unavailable')
    assert.ok(fleet.movingAsked.some((m) => m.has(B)), 'its place was taken with B out of the line')
  })

  it('is idle before anything is asked', () => {
    const { claimant } = setup()
    assert.deepEqual(claimant.status(DS), { phase: 'idle' })
    assert.equal(claimant.enter(DS), false)
    assert.equal(claimant.holding(DS), false)
  })

  it('votes for itself (saved) before it sends the claim, then announces after a majority of grants', async () => {
    const { claimant, sent, votes, voter, answer, claimed } = setup()
    const c = await claimed()
    assert.equal(votes.saves, 1, 'its own grant was saved first')
    assert.equal(voter.slots()[0]?.holder, 'host-a')
    assert.match((claimant.status(DS) as { why: string }).why, /majority/)
    answer('grant', B, c)
    await flush()
    assert.deepEqual(sent.at(-1), { t: 'act', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term })
    assert.equal(voter.slots()[0]?.acting, true, 'its own ack is recorded before the act is sent')
    assert.equal(claimant.status(DS).phase, 'waiting', 'announcing: not granted before the acks')
    assert.equal(claimant.enter(DS), false)
  })

  it('becomes granted on a majority of acks: logs it, tells onGranted, and enter() makes it acting', async () => {
    const { claimant, sink, granted, toGranted } = setup()
    const c = await toGranted()
    assert.deepEqual(claimant.status(DS), { phase: 'granted', term: c.term, kind: 'unavailable', slot: c.slot })
    assert.deepEqual(granted, [DS])
    assert.ok(sink.msgs().includes('update slot acquired'))
    assert.equal(claimant.holding(DS), false)
    assert.equal(claimant.enter(DS), true)
    assert.deepEqual(claimant.status(DS), { phase: 'acting', term: c.term, kind: 'unavailable', slot: c.slot })
    assert.equal(claimant.holding(DS), true)
    assert.equal(claimant.enter(DS), true, 'entering again while acting is fine')
  })

  it('does not name its slot (for its record) while an older agent, which would refuse the record, is a voter', async () => {
    const { claimant, fleet, toGranted } = setup()
    fleet.legacy = true
    const c = await toGranted()
    assert.deepEqual(claimant.status(DS), { phase: 'granted', term: c.term })
  })

  it('ignores answers for another host, another term, or from outside the voter set', async () => {
    const { claimant, answer, claimed } = setup()
    const c = await claimed()
    claimant.hear(B, { t: 'grant', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term, to: C })
    claimant.hear(B, { t: 'grant', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term + 1, to: A })
    answer('grant', key('z'), c)
    await flush()
    assert.match((claimant.status(DS) as { why: string }).why, /majority of the fleet to grant/)
  })

  it('enter() fences an aged grant exactly once, logs it, and starts over (releasing its votes)', async () => {
    const { claimant, clock, sent, sink, voter, toGranted } = setup()
    const c = await toGranted()
    clock.advance(TTL / 2)
    assert.equal(claimant.enter(DS), false)
    assert.equal(claimant.enter(DS), false)
    assert.equal(sink.msgs().filter((m) => m === 'grant aged before acting: action fenced').length, 1)
    assert.deepEqual(sent.at(-1), { t: 'release', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term })
    assert.deepEqual(voter.slots(), [], 'its own vote is freed at once')
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'the grant aged before the update began (fenced)' })
  })

  it('fences acks that arrive after TTL/2', async () => {
    const { claimant, clock, sink, answer, claimed } = setup()
    const c = await claimed()
    answer('grant', B, c)
    await flush()
    clock.advance(TTL / 2)
    answer('ack', B, c)
    assert.equal(claimant.status(DS).phase, 'waiting')
    assert.ok(sink.msgs().includes('grant aged before acting: action fenced'))
    assert.ok(!sink.msgs().includes('update slot acquired'))
  })

  it('status() is a pure query: an aged grant reads as waiting and is still there to fence', async () => {
    const { claimant, clock, sent, toGranted } = setup()
    await toGranted()
    clock.advance(TTL / 2)
    const before = sent.length
    for (let i = 0; i < 3; i++) assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'the grant aged before the update began' })
    assert.equal(sent.length, before, 'status sent nothing')
    assert.equal(claimant.enter(DS), false)
    assert.equal(sent.length, before + 1, 'enter fenced it (the release)')
  })

  it('a changed target abandons the attempt and releases it', async () => {
    const { claimant, sent, voter, claimed } = setup()
    const c = await claimed()
    claimant.claim(DS, 'another-revision', 'unavailable')
    assert.deepEqual(sent.at(-1), { t: 'release', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term })
    assert.deepEqual(voter.slots(), [])
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'the target changed' })
  })

  it('an acting host keeps its slot whatever it is asked next, until it releases', async () => {
    const { claimant, sent, toGranted } = setup()
    await toGranted()
    claimant.enter(DS)
    const before = sent.length
    claimant.claim(DS, 'another-revision', 'surge')
    assert.equal(claimant.holding(DS), true)
    assert.equal(sent.length, before)
  })

  it('abandons a claim no majority answered after claimCutoffMs, saying so', async () => {
    const { claimant, clock, sent, claimed } = setup()
    const c = await claimed()
    clock.advance(T.claimCutoffMs)
    claimant.tick()
    assert.equal(sent.at(-1)?.t, 'claim', 'not yet past the cut-off')
    clock.advance(1)
    claimant.tick()
    assert.deepEqual(sent.at(-1), { t: 'release', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term })
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'no majority answered (1 of 2 needed)' })
  })

  it('shows a refusal as why, and keeps it when the claim times out', async () => {
    const { claimant, clock, sink, claimed } = setup()
    const c = await claimed()
    claimant.hear(B, { t: 'refuse', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term, to: A, reason: 'slot 0 held by someone' })
    // Other voters may still grant: the claim still awaits their answers.
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'slot 0 held by someone', claiming: true })
    assert.ok(sink.msgs().includes('claim refused'))
    clock.advance(T.claimCutoffMs + 1)
    claimant.tick()
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'slot 0 held by someone' })
  })

  it('release sends release and forgets the attempt', async () => {
    const { claimant, sent, voter, sink, toGranted } = setup()
    const c = await toGranted()
    assert.equal(claimant.enter(DS), true)
    claimant.release(DS)
    await flush()
    assert.deepEqual(sent.at(-1), { t: 'release', ds: DS, kind: 'unavailable', slot: c.slot, term: c.term })
    assert.equal(claimant.holding(DS), false)
    assert.deepEqual(claimant.status(DS), { phase: 'idle' })
    assert.deepEqual(voter.slots(), [])
    assert.ok(sink.msgs().includes('update slot released'))
  })

  it('claims nothing when the DaemonSet has no slot of the kind', async () => {
    const { claimant, clock, sent, revision } = setup()
    claimant.claim(DS, revision, 'surge')
    clock.advance(T.jitterMaxMs)
    claimant.claim(DS, revision, 'surge')
    await flush()
    assert.equal(sent.length, 0)
    assert.deepEqual(claimant.status(DS), { phase: 'waiting', why: 'no surge slots' })
  })

  it('drops its attempt when the DaemonSet is deleted', async () => {
    const { claimant, fleet, toGranted } = setup()
    await toGranted()
    claimant.enter(DS)
    fleet.daemonSets.delete(DS)
    claimant.tick()
    assert.equal(claimant.holding(DS), false)
  })
})

describe('lease claimant off the committee', () => {
  /** offSetup: n hosts, a committee of n - 1; the claimant runs on the host off it. */
  function offSetup(limit = 1, names = ['a', 'b', 'c', 'd'], f = 0) {
    const clock = new FakeClock()
    const members = names.map((n) => ({ keyId: key(n), name: `host-${n}` }))
    const fleet = new FakeFleet(members)
    fleet.f = f
    fleet.size = names.length - 1
    fleet.limits.unavailable = limit
    const committee = fleet.committee(DS)
    const me = members.find((m) => !committee.includes(m.keyId))!
    fleet.turns[me.name] = 0
    const sent: { msg: LeaseMessage; to: readonly string[] }[] = []
    const voter = new Voter({ table: new SlotTable(TTL), keyId: me.keyId, fleet, votes: new MemoryVoteStore(), clock, timings: T, log: logSink().log })
    const warmed: string[][] = []
    const claimant = new Claimant({ keyId: me.keyId, selfName: () => me.name, ttlMs: TTL, timings: T, fleet, own: voter.own, clock, send: async (msg, to) => void sent.push({ msg, to }), warm: (to) => void warmed.push([...to]), random: () => 0, log: logSink().log })
    const revision = revisionOf(fleet.daemonSet(DS)!)
    return { clock, fleet, committee, me, members, sent, warmed, voter, claimant, revision }
  }
  const claims = (sent: { msg: LeaseMessage }[]): ClaimMessage[] => sent.map((s) => s.msg).filter((m): m is ClaimMessage => m.t === 'claim')

  it('has no vote of its own: its claim goes to the committee alone, under a term at least its clock in seconds', async () => {
    const { sent, committee, voter, claimant, revision, clock } = offSetup()
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    const [c] = claims(sent)
    assert.ok(c !== undefined)
    assert.deepEqual([...(sent[0]?.to ?? [])].sort(), [...committee].sort())
    assert.deepEqual(voter.slots(), [], 'its own voter gave nothing')
    assert.ok(c.term >= Math.floor(clock.wall() / 1000), `term ${c.term}`)
  })

  it('is granted on a quorum of the committee, acknowledged by a quorum of it', async () => {
    const { sent, committee, me, claimant, revision } = offSetup()
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    const c = claims(sent)[0]!
    const reply = (t: 'grant' | 'ack', from: string): void => claimant.hear(from, { t, ds: c.ds, kind: c.kind, slot: c.slot, term: c.term, to: me.keyId })
    reply('grant', committee[0]!)
    await flush()
    assert.equal(sent.length, 1, 'one grant of three: no quorum (2 at f = 0) yet')
    reply('grant', committee[1]!)
    await flush()
    assert.equal(sent.at(-1)?.msg.t, 'act')
    reply('ack', committee[0]!)
    reply('ack', committee[2]!)
    assert.equal(claimant.status(DS).phase, 'granted')
  })

  it('a claim refused for its term alone is asked again at once, one above the term f+1 refusals told', async () => {
    const { sent, committee, me, claimant, revision } = offSetup()
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    const c = claims(sent)[0]!
    const told = c.term + 40
    const refuse = (from: string, seen: number): void => claimant.hear(from, { t: 'refuse', ds: c.ds, kind: c.kind, slot: c.slot, term: c.term, to: me.keyId, reason: `stale term ${c.term} (seen ${seen}) [term ${seen}]` })
    refuse(committee[0]!, told)
    refuse(committee[1]!, told)
    await flush()
    const again = claims(sent).at(-1)!
    assert.notEqual(again, c, 'claimed again without waiting')
    assert.equal(again.term, told + 1)
  })

  it('a lying voter cannot push its term: it takes the (f+1)-th highest term told', async () => {
    // A committee of 4 at f = 1: a quorum of 3, so it gives up after two refusals.
    const { sent, committee, me, claimant, revision } = offSetup(1, ['a', 'b', 'c', 'd', 'e'], 1)
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    const c = claims(sent)[0]!
    const refuse = (from: string, seen: number): void => claimant.hear(from, { t: 'refuse', ds: c.ds, kind: c.kind, slot: c.slot, term: c.term, to: me.keyId, reason: `stale term ${c.term} (seen ${seen}) [term ${seen}]` })
    refuse(committee[0]!, 2 ** 50)
    refuse(committee[1]!, c.term + 2)
    await flush()
    assert.equal(claims(sent).at(-1)!.term, c.term + 3)
  })

  it('releases to the committee, and also to the head of the line off the committee: one host per free slot', async () => {
    const { sent, fleet, me, members, claimant, revision } = offSetup(2, ['a', 'b', 'c', 'd', 'e', 'f'])
    fleet.size = 3
    const voters = fleet.committee(DS)
    const off = members.filter((m) => !voters.includes(m.keyId) && m.keyId !== me.keyId)
    assert.ok(!voters.includes(me.keyId) && off.length >= 2, `committee ${voters.length} of ${members.length}`)
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    const c = claims(sent)[0]!
    for (const t of ['grant', 'ack'] as const) {
      for (const v of voters) claimant.hear(v, { t, ds: c.ds, kind: c.kind, slot: c.slot, term: c.term, to: me.keyId })
      await flush()
    }
    assert.ok(claimant.enter(DS))
    // The line as this host sees it: a committee member first (the release reaches it as a voter), then the others.
    const onCommittee = members.find((m) => voters.includes(m.keyId))!
    fleet.line = [onCommittee.name, ...off.map((m) => m.name), me.name]
    sent.length = 0
    claimant.release(DS)
    await flush()
    const releases = sent.filter((x) => x.msg.t === 'release')
    assert.deepEqual(releases.map((x) => x.msg), [{ t: 'release', ds: DS, kind: c.kind, slot: c.slot, term: c.term }, { t: 'release', ds: DS, kind: c.kind, slot: c.slot, term: c.term }])
    assert.deepEqual([...releases[0]!.to].sort(), [...voters].sort(), 'to the committee')
    assert.deepEqual(releases[1]!.to, [off[0]!.keyId], 'two slots free: the first two of the line, less the committee member')
  })

  it('a holder’s release heard frees the slot its record still reports, and opens a cooling fast path', async () => {
    const { sent, fleet, committee, me, claimant, revision } = offSetup(1)
    const holder = committee[0]!
    const term = 1_700_000_000 + 2 ** 30
    fleet.reported = [{ holder, slot: 0, term }]
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    assert.equal(claims(sent).length, 0, 'slot 0 is reported held: it waits')
    claimant.heardRelease(holder, { ds: DS, kind: 'unavailable', slot: 0, term: term - 1 })
    claimant.wake(DS)
    await flush()
    assert.equal(claims(sent).length, 0, 'a release of an older term does not free a later hold')
    claimant.heardRelease(holder, { ds: DS, kind: 'unavailable', slot: 0, term })
    claimant.wake(DS)
    await flush()
    const c = claims(sent)[0]
    assert.equal(c?.slot, 0, 'claimed once the holder said it released, before its record did')
    // Refused by the committee: it cools, and a wake alone does not make it claim again.
    for (const v of committee) claimant.hear(v, { t: 'refuse', ds: DS, kind: 'unavailable', slot: 0, term: c!.term, to: me.keyId, reason: 'slot 0 held by host-x' })
    await flush()
    fleet.reported = []
    claimant.wake(DS)
    await flush()
    assert.equal(claims(sent).length, 1, 'no claim while it cools')
    // Off the committee, a release is sent to it as the head of the line: its fast path opens.
    claimant.heardRelease(committee[1]!, { ds: DS, kind: 'unavailable', slot: 0, term: term + 1 })
    claimant.wake(DS)
    await flush()
    assert.equal(claims(sent).length, 2, 'claimed again at once')
  })

  it('leaves out of its line a host whose release matched a slot its record reports, not one that gave up a claim', async () => {
    const { fleet, committee, claimant, revision } = offSetup(1)
    const [held, gaveUp] = [committee[0]!, committee[1]!]
    const term = 1_700_000_000 + 2 ** 30
    fleet.reported = [{ holder: held, slot: 0, term }]
    claimant.heardRelease(held, { ds: DS, kind: 'unavailable', slot: 0, term })
    claimant.heardRelease(gaveUp, { ds: DS, kind: 'unavailable', slot: 0, term: term + 1 })
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    const moving = fleet.movingAsked.at(-1)
    assert.ok(moving?.has(held), 'released the slot its record reports: not waiting')
    assert.ok(!moving?.has(gaveUp), 'its release matches no slot it holds: still in line')
  })

  it('opens its links to the committee while within the next round of the line, not before', async () => {
    const far = offSetup(1)
    far.fleet.turns[far.me.name] = 2
    far.claimant.claim(DS, far.revision, 'unavailable')
    await flush()
    assert.deepEqual(far.warmed, [], 'two rounds away: nothing opened')
    const near = offSetup(1)
    near.fleet.turns[near.me.name] = 1
    near.claimant.claim(DS, near.revision, 'unavailable')
    await flush()
    assert.equal(claims(near.sent).length, 0, 'not its turn yet')
    assert.deepEqual([...(near.warmed[0] ?? [])].sort(), [...near.committee].sort())
  })

  it('sees the slots other hosts report holding as busy, and asks above their terms', async () => {
    const { sent, fleet, claimant, revision, committee } = offSetup(2)
    fleet.reported = [{ holder: committee[0]!, slot: 0, term: 2 ** 40 }]
    claimant.claim(DS, revision, 'unavailable')
    await flush()
    assert.equal(claims(sent)[0]?.slot, 1, 'slot 0 is reported held')
    const { sent: sent2, fleet: fleet2, claimant: claimant2, revision: revision2, committee: committee2 } = offSetup(1)
    fleet2.reported = [{ holder: committee2[0]!, slot: 0, term: 2 ** 40 }]
    claimant2.claim(DS, revision2, 'unavailable')
    await flush()
    assert.equal(claims(sent2).length, 0, 'its only slot is reported held: it waits')
    fleet2.reported = []
    const term = 1_700_000_000 + 2 ** 30
    claimant2.noteTerm(DS, 'unavailable', 0, 2 ** 52)
    claimant2.noteTerm(DS, 'unavailable', 0, term)
    claimant2.wake(DS)
    await flush()
    assert.equal(claims(sent2)[0]?.term, term + 1, 'above the term the holder reported (one far past what voters accept is not believed)')
  })
})
