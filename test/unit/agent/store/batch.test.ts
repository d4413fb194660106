// The store topic's batches (core/batch.ts): a DaemonSet and its history gossiped as one
// message are merged as one write, all or nothing; a batch out of bounds is refused.

import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { pino } from 'pino'
import { AgentClock } from '../../../../agent/clock.js'
import { Metrics } from '../../../../agent/metrics.js'
import { Store } from '../../../../agent/store/store.js'
import { MAX_BATCH_ENVELOPES, knowsBatches } from '../../../../core/batch.js'
import { signEnvelope, type Envelope } from '../../../../core/envelope.js'
import { generateKeyPair, parsePrivateKey } from '../../../../core/keys.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'

const operator = generateKeyPair()
const operatorKey = parsePrivateKey(operator.privateKeyPem)
const clock = new VirtualClock()
const dirs: string[] = []
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

async function store(): Promise<{ store: Store; changed: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'dm-batch-'))
  dirs.push(dir)
  const s = await Store.open({ path: dir, trusted: [operator.id], checkValue: () => undefined, clock: new AgentClock(clock), metrics: new Metrics(), log: pino({ level: 'silent' }) })
  const changed: string[] = []
  s.on('store:change', (e) => changed.push(e.key))
  return { store: s, changed }
}

const put = (key: string, wall = clock.wall()): Envelope => signEnvelope(key, { at: wall }, { wall, logical: 0 }, operatorKey)
const gossip = (body: unknown): { topic: string; data: Uint8Array; from: string; fromKeyId: string } => ({ topic: '/daemonmesh/v1/store', data: new TextEncoder().encode(JSON.stringify(body)), from: 'p', fromKeyId: 'k' })

describe('store topic batches', () => {
  it('a batch merges every envelope, in order, and is accepted (relayed); the same batch again is ignored', async () => {
    const { store: s, changed } = await store()
    const batch = { batch: [put('ds/default/a'), put('history/default/a')] }
    assert.equal(s.validate(gossip(batch)), 'accept')
    assert.deepEqual(changed, ['ds/default/a', 'history/default/a'])
    assert.equal(s.validate(gossip(batch)), 'ignore')
    await s.close()
  })

  it('a batch with one forged envelope is rejected and changes nothing', async () => {
    const { store: s, changed } = await store()
    const forged = { ...put('history/default/a'), value: { at: 0 } }
    assert.equal(s.validate(gossip({ batch: [put('ds/default/a'), forged] })), 'reject')
    assert.deepEqual(changed, [])
    assert.equal(s.map.size, 0)
    await s.close()
  })

  it('a batch out of bounds is rejected: one envelope, too many, another field', async () => {
    const { store: s } = await store()
    const many = Array.from({ length: MAX_BATCH_ENVELOPES + 1 }, (_, i) => put(`ds/default/x${i}`))
    for (const body of [{ batch: [put('ds/default/a')] }, { batch: many }, { batch: [put('ds/default/a'), put('ds/default/b')], more: 1 }, { batch: 'no' }]) {
      assert.equal(s.validate(gossip(body)), 'reject')
    }
    assert.equal(s.map.size, 0)
    await s.close()
  })

  it('applyAll from the API persists what it applied: a reopened store has it', async () => {
    const { store: s } = await store()
    const r = await s.applyAll([put('ds/default/a'), put('history/default/a')], 'api')
    assert.equal(r.status, 'merged')
    const path = dirs.at(-1) as string
    await s.close()
    const again = await Store.open({ path, trusted: [operator.id], checkValue: () => undefined, clock: new AgentClock(clock), metrics: new Metrics(), log: pino({ level: 'silent' }) })
    assert.equal(again.map.size, 2)
    await again.close()
  })

  it('agents of 0.1.x read no batch; later ones do', () => {
    assert.equal(knowsBatches('0.1.0'), false)
    assert.equal(knowsBatches('0.2.0'), true)
  })
})
