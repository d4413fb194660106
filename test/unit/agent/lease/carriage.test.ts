// Lease links at the border, on an in-memory hub: what a voter takes on a link it serves
// (numbered requests from members, judged as on streams) and what it refuses (malformed
// frames, answers, too many links or requests at once), and what a claimant takes back
// (only an answer of its request's kind, from the voter it asked).

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { viewOf } from '../../../../core/lease.js'
import { revisionOf } from '../../../../core/revision.js'
import { defaultTimings } from '../../../../agent/defaults.js'
import { Lease, MAX_LEASE_FRAME_BYTES } from '../../../../agent/lease/lease.js'
import { MemoryVoteStore } from '../../../../agent/lease/votes.js'
import { LEASE_LINK_PROTOCOL, LEASE_PROTOCOL } from '../../../../agent/network/constants.js'
import type { FrameChannel, Transport } from '../../../../agent/transport.js'
import { MemoryHub, type MemoryTransport } from '../../../helpers/memory-transport.js'
import { DS, FakeClock, FakeFleet, flush, logSink, peerIdOf } from './fakes.js'
import { A, B, V, countingMetrics, voterOnHub } from './on-hub.js'

const timings = defaultTimings().lease
const LIMITS = { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: timings.exchangeTimeoutMs, idleMs: timings.linkIdleMs }

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v))
const dec = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b))

function setup() {
  const v = voterOnHub()
  const link = (from: keyof typeof v.peers): Promise<FrameChannel> => v.peers[from].open(v.transport.peerId, LEASE_LINK_PROTOCOL, LIMITS, v.transport.addresses())
  return { ...v, link }
}

type LinkRequest = { n: number; m: { ds: string; kind: string; slot: number; term: number } }

/** serveLinks has `peer` serve lease links, answering each request with what `answer` returns (nothing when undefined); returns how many links it was opened. */
async function serveLinks(peer: MemoryTransport, answer: (f: LinkRequest) => unknown): Promise<() => number> {
  let links = 0
  await peer.serve(LEASE_LINK_PROTOCOL, async (ch) => {
    links++
    for (;;) {
      const a = answer(dec(await ch.read()) as LinkRequest)
      if (a !== undefined) await ch.write(enc(a))
    }
  }, { ...LIMITS, maxStreams: 4 })
  return () => links
}

/** claimSoon has `l` claim the DaemonSet's update slot, its jitter passed. */
function claimSoon(l: Lease, clock: FakeClock, fleet: FakeFleet): void {
  const revision = revisionOf(fleet.daemonSet(DS)!)
  l.slots.claim(DS, revision, 'unavailable')
  clock.advance(timings.jitterMinMs)
  l.slots.claim(DS, revision, 'unavailable')
}

/** ended tells how a channel's next read ends: a frame, or the channel closed or reset. */
const ended = async (ch: FrameChannel): Promise<string> => ch.read().then((b) => `frame ${JSON.stringify(dec(b))}`, (e: Error) => (/reset/.test(e.message) ? 'reset' : 'closed'))

describe('lease links (carriage)', () => {
  it('judges a member’s numbered requests on one link and answers each with its number; a release gets none', async () => {
    const { l, link, claim, lease } = setup()
    await l.start()
    const ch = await link('A')
    await ch.write(enc({ n: 3, m: claim }))
    assert.deepEqual(dec(await ch.read()), { n: 3, m: { t: 'grant', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: A } })
    await ch.write(enc({ n: 4, m: { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term: 1 } }))
    assert.deepEqual(dec(await ch.read()), { n: 4, m: { t: 'ack', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: A } })
    await ch.write(enc({ n: 5, m: { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: 1 } }))
    // An act it does not acknowledge (no such hold) is answered without a message.
    await ch.write(enc({ n: 6, m: { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term: 9 } }))
    assert.deepEqual(dec(await ch.read()), { n: 6 })
    assert.deepEqual(l.busySlots(), [])
    assert.deepEqual(lease.seen.filter((s) => s.result === 'sent').map((s) => s.type), ['grant', 'ack'])
    l.stop()
  })

  it('the sender is the link’s authenticated member; a non-member is heard on a link no more than on a stream', async () => {
    const { l, link, claim, lease } = setup()
    await l.start()
    const z = await link('Z')
    await z.write(enc({ n: 0, m: claim }))
    assert.deepEqual(dec(await z.read()), { n: 0 })
    assert.deepEqual(l.busySlots(), [])
    assert.deepEqual(lease.seen, [{ type: 'claim', result: 'ignored' }])
    const b = await link('B')
    await b.write(enc({ n: 0, m: claim }))
    assert.equal((dec(await b.read()) as { m: { to: string } }).m.to, B)
    assert.equal(l.busySlots()[0]?.holder, 'host-b')
    l.stop()
  })

  it('a malformed frame, a frame without its number, or an answer sent as a request ends the link and is counted as rejected', async () => {
    const { l, link, claim, lease, rejected } = setup()
    await l.start()
    for (const bad of ['{not json', { m: claim }, { n: -1, m: claim }, { n: 0, m: claim, extra: 1 }, { n: 0, m: { t: 'grant', ds: DS, kind: 'unavailable', slot: 0, term: 1, to: V } }]) {
      const ch = await link('A')
      await ch.write(enc(bad))
      assert.equal(await ended(ch), 'reset', JSON.stringify(bad))
      await flush()
    }
    assert.equal(lease.seen.filter((s) => s.result === 'rejected').length, 5)
    assert.equal(rejected.seen.length, 5)
    assert.deepEqual(l.busySlots(), [])
    l.stop()
  })

  it('serves at most maxInboundLinks links per connection', async () => {
    const { l, link } = setup()
    await l.start()
    const open = await Promise.all(Array.from({ length: timings.maxInboundLinks }, () => link('A')))
    await assert.rejects(link('A'), /serves at most/)
    await open[0]?.close()
    await flush()
    await link('A')
    l.stop()
  })

  it('judges at most maxInboundStreams requests of one link at once, and reads no further meanwhile', async () => {
    const { hub } = setup()
    // Votes that cannot be saved yet hold every judgment open (saves are chained).
    const release: (() => void)[] = []
    const votes = new MemoryVoteStore()
    const save = votes.save.bind(votes)
    votes.save = async (state) => {
      await new Promise<void>((resolve) => release.push(resolve))
      return save(state)
    }
    const fleet = new FakeFleet([
      { keyId: A, name: 'host-a' },
      { keyId: V, name: 'host-w' },
    ])
    const w = hub.join(peerIdOf('host-w'), V)
    // What the voter read off its links, frame by frame.
    let read = 0
    const transport: Pick<Transport, 'serve' | 'open'> = {
      serve: (protocol, handler, limits) => w.serve(protocol, (ch, peer, keyId) => handler({ write: (f) => ch.write(f), read: () => ch.read().then((f) => (read++, f)), close: () => ch.close() }, peer, keyId), limits),
      open: (...args) => w.open(...args),
    }
    const slow = new Lease({ transport, clock: new FakeClock(), fleet, votes, keyId: V, selfName: () => 'host-w', ttlMs: 10_000, timings, metrics: countingMetrics(), log: logSink().log })
    await slow.start()
    const ch = await hub.get(peerIdOf('host-a'))!.open(w.peerId, LEASE_LINK_PROTOCOL, LIMITS, w.addresses())
    const view = viewOf(fleet.voters()).view
    const revision = revisionOf(fleet.daemonSet(DS)!)
    const total = timings.maxInboundStreams + 3
    for (let i = 0; i < total; i++) await ch.write(enc({ n: i, m: { t: 'claim', ds: DS, kind: 'unavailable', slot: 0, term: i + 1, revision, view } }))
    for (let i = 0; i < 20; i++) await flush()
    assert.equal(read, timings.maxInboundStreams, 'the link is not read past the requests being judged')
    // Once the saves go through, every request is judged and answered.
    const answered = new Set<number>()
    for (let i = 0; i < 100 && answered.size < total; i++) {
      release.splice(0).forEach((r) => r())
      await flush()
      const got = await Promise.race([ch.read().then((b) => dec(b) as { n: number }), flush().then(() => undefined)])
      if (got !== undefined) answered.add(got.n)
    }
    assert.equal(read, total)
    assert.equal(answered.size, total, 'every request answered once the saves went through')
    slow.stop()
  })

  it('as a claimant, takes only an answer of its request’s kind on the link, and drops the link of a voter that sends another', async () => {
    const { l, clock, fleet, peers, lease, rejected } = setup()
    await l.start()
    // A answers every claim on a link with an ack (not a grant or a refusal).
    const links = await serveLinks(peers.A, (f) => ({ n: f.n, m: { t: 'ack', ds: f.m.ds, kind: f.m.kind, slot: f.m.slot, term: f.m.term, to: V } }))
    claimSoon(l, clock, fleet)
    for (let i = 0; i < 20; i++) await flush()
    assert.equal(links(), 1)
    assert.deepEqual(lease.seen.filter((s) => s.result === 'rejected'), [{ type: 'invalid', result: 'rejected' }])
    assert.equal(rejected.seen.length, 1)
    assert.notEqual(l.slots.status(DS).phase, 'granted')
    l.stop()
  })

  it('asks a voter that serves no links on a stream per request, and tries a link again five minutes later', async () => {
    const clock = new FakeClock()
    const fleet = new FakeFleet([
      { keyId: A, name: 'host-a' },
      { keyId: V, name: 'host-v' },
    ])
    const hub = new MemoryHub(clock)
    const ta = hub.join(peerIdOf('host-a'), A)
    const tv = hub.join(peerIdOf('host-v'), V)
    const opened: string[] = []
    const voter = new Lease({ transport: { serve: async (p, h, l) => (p === LEASE_LINK_PROTOCOL ? undefined : ta.serve(p, h, l)), open: (...args) => ta.open(...args) }, clock, fleet, votes: new MemoryVoteStore(), keyId: A, selfName: () => 'host-a', ttlMs: 10_000, timings, metrics: countingMetrics(), log: logSink().log })
    const claimant = new Lease({ transport: { serve: (...args) => tv.serve(...args), open: async (peer, p, l, a) => tv.open(peer, p, l, a).then((ch) => (opened.push(p), ch), (err: unknown) => (opened.push(`${p} refused`), Promise.reject(err))) }, clock, fleet, votes: new MemoryVoteStore(), keyId: V, selfName: () => 'host-v', ttlMs: 10_000, timings, metrics: countingMetrics(), log: logSink().log, random: () => 0 })
    await voter.start()
    await claimant.start()
    const revision = revisionOf(fleet.daemonSet(DS)!)
    const roll = async (): Promise<void> => {
      for (let i = 0; i < 50 && claimant.slots.status(DS).phase !== 'granted'; i++) {
        claimant.slots.claim(DS, revision, 'unavailable')
        clock.advance(timings.jitterMaxMs)
        await flush()
      }
      assert.equal(claimant.slots.status(DS).phase, 'granted')
      assert.ok(claimant.slots.enter(DS))
      claimant.slots.release(DS)
      for (let i = 0; i < 20 && voter.busySlots().length > 0; i++) await flush()
      assert.deepEqual(voter.busySlots(), [])
    }
    const links = (): number => opened.filter((p) => p.startsWith(LEASE_LINK_PROTOCOL)).length
    await roll()
    assert.deepEqual(opened, [`${LEASE_LINK_PROTOCOL} refused`, LEASE_PROTOCOL, LEASE_PROTOCOL, LEASE_PROTOCOL])
    clock.advance(20_000)
    await roll()
    assert.equal(links(), 1, 'not asked on a link again within five minutes')
    clock.advance(5 * 60_000)
    await roll()
    assert.equal(links(), 2, 'asked on a link again after five minutes')
    assert.equal(opened.filter((p) => p === LEASE_PROTOCOL).length, 9)
    voter.stop()
    claimant.stop()
  })

  it('opens its links to the voters ahead of its turn, sending nothing on them', async () => {
    const { l, clock, fleet, peers } = setup()
    await l.start()
    let requests = 0
    const linksA = await serveLinks(peers.A, () => void requests++)
    const linksB = await serveLinks(peers.B, () => void requests++)
    // host-v is second in line for the one slot: within the next round, not yet its turn.
    fleet.turns['host-v'] = 1
    claimSoon(l, clock, fleet)
    for (let i = 0; i < 10; i++) await flush()
    assert.deepEqual([linksA(), linksB(), requests], [1, 1, 0])
    // Looking again (the next tick) opens nothing more: the links are there.
    clock.advance(timings.tickMs)
    for (let i = 0; i < 10; i++) await flush()
    assert.deepEqual([linksA(), linksB(), requests], [1, 1, 0])
    l.stop()
  })

  it('opens another link after a request on it went unanswered (its connection may carry nothing any more)', async () => {
    const { l, clock, fleet, peers } = setup()
    await l.start()
    // A reads every request on a link and never answers; B serves nothing.
    const links = await serveLinks(peers.A, () => undefined)
    claimSoon(l, clock, fleet)
    for (let i = 0; i < 10; i++) await flush()
    assert.equal(links(), 1)
    clock.advance(timings.exchangeTimeoutMs)
    for (let i = 0; i < 10; i++) await flush()
    // The claim is given up at its cut-off; the next one goes on a new link.
    const revision = revisionOf(fleet.daemonSet(DS)!)
    for (let i = 0; i < 40 && links() < 2; i++) {
      clock.advance(1000)
      l.slots.claim(DS, revision, 'unavailable')
      for (let j = 0; j < 5; j++) await flush()
    }
    assert.equal(links(), 2)
    l.stop()
  })
})
