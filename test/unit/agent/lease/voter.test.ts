import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SlotTable, viewOf, type ClaimMessage, type LeaseMessage } from '../../../../core/lease.js'
import { revisionOf } from '../../../../core/revision.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Voter, type Request } from '../../../../agent/lease/voter.js'
import { MemoryVoteStore, type SavedVotes, type VoteStore } from '../../../../agent/lease/votes.js'
import { DS, FakeClock, FakeFleet, daemonSet, flush, key, logSink, recorder } from './fakes.js'

const TTL = 10_000
const A = key('a')
const B = key('b')
const V = key('v')

function setup(over: { answersPerSecond?: number; votes?: VoteStore; send?: (msg: LeaseMessage) => Promise<void>; minReadySeconds?: number } = {}) {
  const clock = new FakeClock()
  const fleet = new FakeFleet(
    [
      { keyId: A, name: 'host-a' },
      { keyId: B, name: 'host-b' },
      { keyId: V, name: 'host-v' },
    ],
    daemonSet('busybox:1.36', over.minReadySeconds ?? 0),
  )
  const rec = recorder()
  const sink = logSink()
  const votes = over.votes ?? new MemoryVoteStore()
  const voter = new Voter({
    table: new SlotTable(TTL),
    keyId: V,
    fleet,
    votes,
    clock,
    timings: { answersPerSecond: over.answersPerSecond ?? defaultTimings().lease.answersPerSecond },
    log: sink.log,
  })
  // The Lease writes the answer back on the request's channel: here it goes to `send`.
  const send = over.send ?? rec.send
  const hear = async (from: string, msg: Request): Promise<void> => {
    const reply = await voter.hear(from, msg)
    if (reply !== undefined) await send(reply)
  }
  const revision = revisionOf(fleet.daemonSet(DS)!)
  const claim = (slot: number, term: number): ClaimMessage => ({ t: 'claim', ds: DS, kind: 'unavailable', slot, term, revision, view: viewOf(fleet.voters()).view })
  const ref = (slot: number, term: number) => ({ ds: DS, kind: 'unavailable' as const, slot, term })
  return { clock, fleet, voter, hear, votes, sent: rec.sent, sink, claim, ref, revision }
}

describe('lease voter', () => {
  it('grants a free slot to a member, then refuses it to another while the grant is young', async () => {
    const { hear, sent, claim } = setup()
    await hear(A, claim(0, 1))
    await hear(B, claim(0, 2))
    assert.deepEqual(sent[0], { t: 'grant', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: A })
    assert.equal(sent[1]?.t, 'refuse')
    assert.equal(sent[1]?.to, B)
    assert.match((sent[1] as { reason: string }).reason, /held by/)
  })

  it('acknowledges the holder’s act, shows the slot by node name, and frees it on release', async () => {
    const { voter, hear, sent, claim, ref } = setup()
    await hear(A, claim(0, 1))
    await hear(A, { t: 'act', ...ref(0, 1) })
    assert.deepEqual(sent[1], { t: 'ack', ...ref(0, 1), to: A })
    assert.deepEqual(voter.slots(), [{ ds: DS, kind: 'unavailable', slot: 0, holder: 'host-a', term: 1, revision: claim(0, 1).revision, acting: true }])
    await hear(A, { t: 'release', ...ref(0, 1) })
    assert.deepEqual(voter.slots(), [])
    await hear(B, claim(0, 2))
    assert.equal(sent.at(-1)?.t, 'grant')
  })

  it('does not count a holder that released after acting as unavailable while its record lags, for at most the TTL', async () => {
    const { voter, fleet, clock, hear, sent, claim, ref } = setup()
    await hear(A, claim(0, 1))
    await hear(A, { t: 'act', ...ref(0, 1) })
    // A's record (gossip) still shows its copy down when its release (point to point) arrives.
    fleet.downHosts.add(A)
    await hear(A, { t: 'release', ...ref(0, 1) })
    assert.deepEqual([...voter.finished(DS)], [A])
    await hear(B, claim(0, 2))
    assert.equal(sent.at(-1)?.t, 'grant', 'A released: its copy is available by its word')
    await hear(B, { t: 'release', ...ref(0, 2) })
    clock.advance(TTL)
    voter.tick()
    assert.deepEqual([...voter.finished(DS)], [])
    await hear(B, claim(0, 3))
    assert.match((sent.at(-1) as { reason: string }).reason, /1 host\(s\) already unavailable/, 'after the TTL its record counts again')
  })

  it('takes a release as done only from a holder that acted, and only until its record reports the copy ready', async () => {
    const { voter, fleet, hear, sent, claim, ref, revision } = setup()
    fleet.downHosts.add(A)
    await hear(A, claim(0, 1))
    await hear(A, { t: 'release', ...ref(0, 1) })
    assert.deepEqual([...voter.finished(DS)], [], 'a claim given up before acting is not an update done')
    await hear(B, claim(0, 2))
    assert.match((sent.at(-1) as { reason: string }).reason, /already unavailable/)
    await hear(B, { t: 'release', ...ref(0, 2) })
    fleet.downHosts.delete(A)
    await hear(A, claim(0, 3))
    await hear(A, { t: 'act', ...ref(0, 3) })
    await hear(A, { t: 'release', ...ref(0, 3) })
    assert.deepEqual([...voter.finished(DS)], [A])
    fleet.members[0] = { ...fleet.members[0]!, pods: { [DS]: { revision, ready: true } } }
    assert.deepEqual([...voter.finished(DS)], [], 'its record caught up: the record speaks for it again')
  })

  it('does not acknowledge an act from a host that holds no grant, nor a stale release', async () => {
    const { voter, hear, sent, claim, ref } = setup()
    await hear(B, { t: 'act', ...ref(0, 1) })
    assert.equal(sent.length, 0)
    await hear(A, claim(0, 2))
    await hear(A, { t: 'release', ...ref(0, 1) })
    assert.equal(voter.slots().length, 1)
  })

  it('saves its votes before it sends them (grant and ack), and saves nothing for a refusal', async () => {
    const events: string[] = []
    const mem = new MemoryVoteStore()
    const slow: VoteStore = {
      load: () => mem.load(),
      save: async (data: SavedVotes) => {
        await flush()
        await mem.save(data)
        events.push(`save ${data.holds.map((h) => `${h.term}${h.acting ? ' acting' : ''}`).join(',')}`)
      },
    }
    const { hear, claim, ref } = setup({ votes: slow, send: async (msg) => void events.push(`send ${msg.t}`) })
    await hear(A, claim(0, 1))
    await hear(A, { t: 'act', ...ref(0, 1) })
    await hear(B, claim(0, 2))
    assert.deepEqual(events, ['save 1', 'send grant', 'save 1 acting', 'send ack', 'send refuse'])
  })

  it('answers at most answersPerSecond claims per sender each second of the monotonic clock', async () => {
    const { hear, sent, claim, clock } = setup({ answersPerSecond: 3 })
    for (let i = 1; i <= 5; i++) await hear(A, claim(0, i))
    assert.equal(sent.length, 3)
    await hear(B, claim(0, 9))
    assert.equal(sent.length, 4, 'another sender has its own budget')
    clock.advance(1000)
    await hear(A, claim(0, 10))
    assert.equal(sent.length, 5, 'a new second, a new budget')
  })

  it('frees an acting holder seen running an available copy of the current revision after minReadySeconds', async () => {
    const { voter, hear, fleet, clock, claim, ref, revision, sink } = setup({ minReadySeconds: 5 })
    await hear(A, claim(0, 1))
    await hear(A, { t: 'act', ...ref(0, 1) })
    const a = fleet.members[0]!
    a.pods = { [DS]: { revision: 'old', ready: true } }
    voter.tick()
    clock.advance(60_000)
    voter.tick()
    assert.equal(voter.slots().length, 1, 'a ready copy of another revision frees nothing')
    a.pods = { [DS]: { revision, ready: true } }
    voter.tick()
    clock.advance(4999)
    voter.tick()
    assert.equal(voter.slots().length, 1, 'not yet minReadySeconds')
    clock.advance(1)
    voter.tick()
    assert.deepEqual(voter.slots(), [])
    const line = sink.lines.find((l) => l.msg === 'slot freed: its holder runs an available copy')
    assert.equal(line?.holder, 'host-a')
  })

  it('restarts the minReadySeconds wait when the holder was seen not ready in between', async () => {
    const { voter, hear, fleet, clock, claim, ref, revision } = setup({ minReadySeconds: 5 })
    await hear(A, claim(0, 1))
    await hear(A, { t: 'act', ...ref(0, 1) })
    const a = fleet.members[0]!
    a.pods = { [DS]: { revision, ready: true } }
    voter.tick()
    clock.advance(3000)
    a.pods = { [DS]: { revision, ready: false } }
    voter.tick()
    clock.advance(3000)
    a.pods = { [DS]: { revision, ready: true } }
    voter.tick()
    assert.equal(voter.slots().length, 1)
  })

  it('forgets the holds of a deleted DaemonSet and saves', async () => {
    const { voter, hear, fleet, claim, ref, votes } = setup()
    await hear(A, claim(0, 1))
    await hear(A, { t: 'act', ...ref(0, 1) })
    fleet.daemonSets.delete(DS)
    voter.tick()
    await flush()
    assert.deepEqual(voter.slots(), [])
    assert.deepEqual((await votes.load())?.holds, [])
  })

  it('lets a grant never acted on lapse after the TTL', async () => {
    const { voter, hear, clock, claim } = setup()
    await hear(A, claim(0, 1))
    clock.advance(TTL - 1)
    voter.tick()
    assert.equal(voter.slots().length, 1)
    clock.advance(1)
    voter.tick()
    assert.deepEqual(voter.slots(), [])
  })

  it('remembers its votes across a restart: the new voter refuses what the old one gave', async () => {
    const first = setup()
    await first.hear(A, first.claim(0, 3))
    const second = setup({ votes: first.votes })
    await second.voter.restore()
    assert.equal(second.voter.own.maxTerm(DS, 'unavailable', 0), 3, 'the terms seen are restored too')
    await second.hear(B, second.claim(0, 4))
    assert.match((second.sent[0] as { reason: string }).reason, /held by/)
  })

  it('frees the holds of a holder that Left, and of one without a record only once it has run the forget horizon', async () => {
    const { voter, hear, clock, claim, ref, fleet } = setup()
    await hear(A, claim(0, 1))
    await hear(A, { t: 'act', ...ref(0, 1) })
    fleet.members = fleet.members.filter((m) => m.keyId !== A)
    clock.advance(3_599_000)
    voter.tick()
    assert.equal(voter.slots().length, 1, 'a fresh voter does not take a missing record for a forgotten host')
    clock.advance(1000)
    voter.tick()
    assert.deepEqual(voter.slots(), [])
    await hear(B, claim(0, 2))
    await hear(B, { t: 'act', ...ref(0, 2) })
    fleet.members = fleet.members.map((m) => (m.keyId === B ? { ...m, state: 'Left' as const } : m))
    voter.tick()
    assert.deepEqual(voter.slots(), [])
  })

  it('frees a hold an operator released (same revision, term up to the request), and forgets deleted DaemonSets', async () => {
    const { voter, hear, claim, ref, fleet, revision, votes } = setup()
    await hear(A, claim(0, 5))
    await hear(A, { t: 'act', ...ref(0, 5) })
    fleet.releases.set(`${DS}|${A}`, { kind: 'unavailable', slot: 0, term: 4, revision })
    voter.tick()
    assert.equal(voter.slots().length, 1, 'an older request leaves a later claim alone')
    fleet.releases.set(`${DS}|${A}`, { kind: 'unavailable', slot: 0, term: 5, revision })
    voter.tick()
    assert.deepEqual(voter.slots(), [])
    fleet.daemonSets.clear()
    voter.tick()
    await flush()
    assert.deepEqual(await votes.load(), { holds: [], terms: {} })
  })

  it('starts empty, and says so, when its votes are unreadable', async () => {
    const broken: VoteStore = { load: async () => Promise.reject(new SyntaxError('bad json')), save: async () => {} }
    const { voter, sink } = setup({ votes: broken })
    await voter.restore()
    assert.deepEqual(voter.slots(), [])
    assert.ok(sink.msgs().includes('lease state unreadable; starting empty'))
  })

  it('learns terms from valid claims only: a release or an act with term 2^53-1 changes nothing', async () => {
    const { hear, sent, claim } = setup()
    await hear(A, { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: Number.MAX_SAFE_INTEGER })
    await hear(A, { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term: Number.MAX_SAFE_INTEGER })
    await hear(A, claim(0, Number.MAX_SAFE_INTEGER))
    assert.match((sent[0] as { reason: string }).reason, /too far ahead/)
    await hear(A, claim(0, 1))
    assert.equal(sent[1]?.t, 'grant')
  })

  it('judges a claim against the terms seen before it, and learns a refused valid claim\'s term', async () => {
    const { hear, sent, claim } = setup()
    await hear(A, claim(0, 7))
    assert.equal(sent[0]?.t, 'grant')
    await hear(B, claim(0, 9))
    assert.match((sent[1] as { reason: string }).reason, /held by/)
    await hear(A, { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: 7 })
    await hear(B, claim(0, 9))
    assert.match((sent[2] as { reason: string }).reason, /stale term 9 \(seen 9\)/)
    await hear(B, claim(0, 10))
    assert.equal(sent[3]?.t, 'grant')
  })
})
