// Lease hygiene against a member that lies: real agents, real libp2p, rogue members built
// from the production network code (they publish node records and speak the lease protocol
// by hand). Term poisoning, slot hoarding (a holder that never reports ready), and the ways a
// hoarded slot is freed: `rollout release`, the holder Left, the holder forgotten.

import assert from 'node:assert/strict'
import { join } from 'node:path'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { call } from '../../cli/client.js'
import { signEnvelope } from '../../core/envelope.js'
import { viewOf } from '../../core/lease.js'
import { parseDaemonSet } from '../../core/manifest.js'
import { revisionOf } from '../../core/revision.js'
import { MAX_LEASE_FRAME_BYTES } from '../../agent/lease/lease.js'
import { LEASE_LINK_PROTOCOL, LEASE_PROTOCOL, Topics } from '../../agent/network/constants.js'
import { TestCluster, manifest, waitFor, type TestAgent } from '../helpers/cluster.js'
import { runCli } from '../helpers/cli.js'
import { answerProbes, startRogue, type Rogue } from '../helpers/rogue.js'
import { surfaceFailures } from '../helpers/failures.js'

const DS = 'default/sl-leased'
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))

interface Slot {
  ds: string
  holder: string
  term: number
  acting: boolean
}

/** RogueMember is a rogue peer that publishes a node record under its own key, so agents take it for a member. */
class RogueMember {
  readonly rogue: Rogue
  readonly name: string
  private pods: Record<string, unknown> = {}
  private state: 'alive' | 'left' = 'alive'
  private timer: NodeJS.Timeout | undefined

  constructor(rogue: Rogue, name: string) {
    this.rogue = rogue
    this.name = name
  }

  /** report sets what its record says and keeps publishing it (a new version each second, so it is never forgotten while it runs). */
  report(pods: Record<string, unknown>, state: 'alive' | 'left' = 'alive'): void {
    this.pods = pods
    this.state = state
    clearInterval(this.timer)
    const publish = (): void => {
      const r = this.rogue
      const record = { name: this.name, peerId: r.net.peerId, addresses: r.net.addresses(), labels: { 'sl-role': 'rogue' }, taints: [], conditions: [{ type: 'Ready', status: 'True' }], version: 'rogue', state: this.state, startedAt: 1, incarnation: 0, pods: this.pods }
      void r.net.publish(Topics.nodes, enc(signEnvelope(`node/${r.keyId}`, record, { wall: Date.now(), logical: 0 }, r.signingKey))).catch(() => undefined)
    }
    publish()
    this.timer = setInterval(publish, 1000)
  }

  silence(): void {
    clearInterval(this.timer)
  }

  /** ask sends one lease request to `target` on a channel of its own and returns the answer (undefined: none). */
  async ask(target: TestAgent, msg: Record<string, unknown>): Promise<{ t: string; reason?: string } | undefined> {
    const peer = await this.rogue.net.dial(await target.address())
    const channel = await this.rogue.net.open(peer, LEASE_PROTOCOL, { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: 5000 })
    try {
      await channel.write(enc(msg))
      if (msg.t === 'release') return undefined
      return JSON.parse(new TextDecoder().decode(await channel.read())) as { t: string; reason?: string }
    } catch {
      return undefined
    } finally {
      await channel.close().catch(() => undefined)
    }
  }

  /** askOnLink sends numbered lease requests to `target` on one lease link, in order, and returns the frames that came back (a release has none). */
  async askOnLink(target: TestAgent, frames: { n: number; m: Record<string, unknown> }[]): Promise<unknown[]> {
    const peer = await this.rogue.net.dial(await target.address())
    const channel = await this.rogue.net.open(peer, LEASE_LINK_PROTOCOL, { maxFrameBytes: MAX_LEASE_FRAME_BYTES, timeoutMs: 5000, idleMs: 5000 })
    const answers: unknown[] = []
    try {
      for (const f of frames) {
        await channel.write(enc(f))
        if (f.m.t !== 'release') answers.push(JSON.parse(new TextDecoder().decode(await channel.read())))
      }
      return answers
    } finally {
      await channel.close().catch(() => undefined)
    }
  }
}

describe('lease hygiene (rogue members)', () => {
  let cluster: TestCluster
  let agents: TestAgent[]
  const rogues: RogueMember[] = []
  let revision = ''

  const slots = async (a: TestAgent): Promise<Slot[]> => (await call<{ slots: Slot[] }>(a.target, 'GET', '/v1/lease')).slots.filter((s) => s.ds === DS)
  const voters = async (): Promise<string[]> => (await (agents[0] as TestAgent).nodes()).filter((n) => n.status.state !== 'Left').map((n) => (n.status as unknown as { keyId: string }).keyId)
  const claim = async (term: number, slot = 0): Promise<Record<string, unknown>> => ({ t: 'claim', ds: DS, kind: 'unavailable', slot, term, revision, view: viewOf(await voters(), 1).view })
  const outdated = { [DS]: { revision: 'sl-old', phase: 'Running', ready: true, restarts: 0, since: 1 } }

  /** enlist starts a rogue member named `name` and waits until every agent lists it. */
  const enlist = async (name: string, pods: Record<string, unknown>): Promise<RogueMember> => {
    const dir = join(cluster.root, name)
    await mkdir(dir, { recursive: true })
    const m = new RogueMember(await startRogue(cluster.clusterKeyFile, dir), name)
    rogues.push(m)
    await answerProbes(m.rogue)
    for (const a of agents) await m.rogue.net.dial(await a.address())
    m.report(pods)
    await waitFor(`${name} listed everywhere`, async () => (await Promise.all(agents.map((a) => a.nodeState(name)))).every((s) => s !== undefined && s !== 'Left'), 20_000, 200)
    return m
  }

  /** hoard has `m` claim and act on slot 0 at every agent under `term`; returns once every agent shows it acting. */
  const hoard = async (m: RogueMember, term: number): Promise<void> => {
    await waitFor(`${m.name} granted everywhere`, async () => {
      const c = await claim(term)
      const answers = await Promise.all(agents.map((a) => m.ask(a, c)))
      if (!answers.every((x) => x?.t === 'grant')) throw new Error(JSON.stringify(answers))
      return true
    }, 20_000, 500)
    const acks = await Promise.all(agents.map((a) => m.ask(a, { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term })))
    assert.deepEqual(acks.map((x) => x?.t), agents.map(() => 'ack'))
    for (const a of agents) assert.deepEqual((await slots(a)).map((s) => [s.holder, s.term, s.acting]), [[m.name, term, true]], `${a.name} shows ${m.name} acting`)
  }

  before(async () => {
    cluster = await TestCluster.create('sl-lease', 3000)
    agents = await cluster.startMany('sl', 3, { extra: ['--lease-ttl', '2s', '--forget', '8s'] })
    await waitFor('3 alive', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 20_000)
    const f = join(cluster.root, 'sl-leased.yaml')
    // Only the rogues run it (agents without Docker report no copy, which would count as unavailable).
    await writeFile(f, `${manifest('sl-leased')}      nodeSelector: {sl-role: rogue}\n`)
    const target = agents[0] as TestAgent
    assert.equal((await runCli('apply', '-f', f, '--agent', target.target.address, '--key', cluster.operatorKeyFile)).code, 0)
    await waitFor('sl-leased everywhere', async () => (await Promise.all(agents.map((a) => a.daemonSets()))).every((l) => l.length === 1), 10_000)
    const parsed = parseDaemonSet(JSON.parse(JSON.stringify((await target.daemonSets())[0])) as unknown).daemonSet
    assert.ok(parsed !== undefined)
    revision = revisionOf(parsed)
  })

  after(async () => {
    for (const m of rogues) {
      m.silence()
      await m.rogue.net.stop().catch(() => undefined)
    }
    await cluster.stopAll()
  })

  it('a member cannot poison a term (release, act or claim at 2^53-1), and only a host with an outdated copy may hold a slot', async () => {
    const m = await enlist('sl-rogue-a', {})
    const max = Number.MAX_SAFE_INTEGER
    for (const a of agents) {
      assert.match((await m.ask(a, await claim(1)))?.reason ?? '', /reports no copy to update/, `${a.name} refuses a host with no copy`)
      await m.ask(a, { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: max })
      assert.equal(await m.ask(a, { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term: max }), undefined)
    }
    m.report({ [DS]: { ...outdated[DS], revision } })
    await waitFor('a current copy refused', async () => (await Promise.all(agents.map(async (a) => /already runs the current revision/.test((await m.ask(a, await claim(1)))?.reason ?? '')))).every(Boolean), 20_000, 500)
    m.report(outdated)
    await waitFor('term 2^53-1 refused', async () => (await Promise.all(agents.map(async (a) => /too far ahead/.test((await m.ask(a, await claim(max)))?.reason ?? '')))).every(Boolean), 20_000, 500)
    // Nothing above taught a term: the first honest claim, term 1, is granted everywhere.
    await hoard(m, 1)
  })

  it('a member’s requests on a lease link are judged as on streams, each answer carrying its request’s number', async () => {
    const m = rogues[0] as RogueMember
    const max = Number.MAX_SAFE_INTEGER
    for (const a of agents) {
      const answers = (await m.askOnLink(a, [
        { n: 7, m: await claim(max) },
        { n: 8, m: { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term: 1 } },
        { n: 9, m: { t: 'release', ds: DS, kind: 'unavailable', slot: 0, term: max } },
        { n: 10, m: { t: 'act', ds: DS, kind: 'unavailable', slot: 0, term: 2 } },
      ])) as { n: number; m?: { t: string; reason?: string; term?: number } }[]
      assert.deepEqual(answers.map((x) => [x.n, x.m?.t]), [[7, 'refuse'], [8, 'ack'], [10, undefined]], `${a.name}: a refusal, an ack of its own hold, no answer to an act it does not hold`)
      assert.match(answers[0]?.m?.reason ?? '', /too far ahead/)
      // The release named a term it does not hold: the hold of term 1 stays, acting.
      assert.deepEqual((await slots(a)).map((s) => [s.holder, s.term, s.acting]), [[m.name, 1, true]])
    }
  })

  it('a holder that never reports ready keeps its slot past the TTL, until `rollout release` frees it at every voter', async () => {
    const m = rogues[0] as RogueMember
    await new Promise((r) => setTimeout(r, 2500))
    for (const a of agents) assert.equal((await slots(a)).length, 1, `${a.name}: an acknowledged slot does not lapse`)
    // It answers probes, so no voter's view of the fleet changes under the claims below.
    for (const a of agents) assert.equal(await a.nodeState(m.name), 'Alive', `${a.name} sees ${m.name} Alive`)
    const r = await runCli('rollout', 'release', 'ds/sl-leased', '--node', 'sl-rogue-a', '--agent', (agents[1] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /unavailable slot 0 of node sl-rogue-a released/)
    await waitFor('slot freed everywhere', async () => (await Promise.all(agents.map(slots))).every((l) => l.length === 0), 10_000, 200)
    // The request names term 1: a later claim (term 2) is not freed by it.
    await hoard(m, 2)
    await new Promise((res) => setTimeout(res, 1500))
    for (const a of agents) assert.equal((await slots(a)).length, 1, `${a.name} keeps the term-2 hold`)
    const none = await runCli('rollout', 'release', 'ds/sl-leased', '--node', 'sl-1', '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(none.code, 1)
    assert.match(none.stderr, /holds no update slot/)
  })

  it('a holder that leaves (Left) frees its slot', async () => {
    const m = rogues[0] as RogueMember
    m.report(outdated, 'left')
    await waitFor('slot freed on Left', async () => (await Promise.all(agents.map(slots))).every((l) => l.length === 0), 15_000, 200)
  })

  it('a holder that is forgotten frees its slot', async () => {
    const m = await enlist('sl-rogue-b', outdated)
    await hoard(m, 3)
    m.silence()
    await m.rogue.net.stop()
    await waitFor('sl-rogue-b forgotten', async () => (await Promise.all(agents.map((a) => a.nodeState('sl-rogue-b')))).every((s) => s === undefined), 30_000, 500)
    await waitFor('slot freed once forgotten', async () => (await Promise.all(agents.map(slots))).every((l) => l.length === 0), 10_000, 200)
  })

  it('`rollout release` through an agent that kept no votes of the holder reads the slot from the holder\'s record', async () => {
    // As on an agent off the DaemonSet's committee: the holder's record says which slot and term it holds.
    const held = { ...outdated[DS], updateSlot: { kind: 'unavailable', slot: 0, term: 7 } }
    await enlist('sl-rogue-r', { [DS]: held })
    for (const a of agents) assert.deepEqual(await slots(a), [], `${a.name} kept no votes of it`)
    const via = agents[2] as TestAgent
    const r = await runCli('rollout', 'release', 'ds/sl-leased', '--node', 'sl-rogue-r', '--agent', via.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /unavailable slot 0 of node sl-rogue-r released/)
    const request = await call<{ value: Record<string, unknown> }>(via.target, 'GET', `/v1/envelopes?key=${encodeURIComponent('release/default/sl-leased/sl-rogue-r')}`)
    assert.deepEqual(request.value, { kind: 'unavailable', slot: 0, term: 7, revision })
  })

  it('a deleted DaemonSet takes its lease state with it (holds and terms in lease.json)', async () => {
    const m = await enlist('sl-rogue-c', outdated)
    await hoard(m, 4)
    const r = await runCli('delete', 'ds', 'sl-leased', '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await waitFor('lease.json without sl-leased', async () => {
      const files = await Promise.all(agents.map((a) => readFile(join(a.dir, 'lease.json'), 'utf8').catch(() => '')))
      return files.every((t) => t !== '' && !t.includes('sl-leased')) || undefined
    }, 10_000, 200)
    for (const a of agents) assert.deepEqual(await slots(a), [])
  })

  surfaceFailures()
})
