// Trust changes, against a real agent restarted with each configuration: an operator key
// trusted, then retired (what it signed stays, it signs nothing new), then revoked (what it
// signed is dropped, its deletes stay), and `daemonmesh resign --from` moving its entries to
// the current key so it can be revoked without losing them.

import assert from 'node:assert/strict'
import { createPrivateKey } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { call } from '../../cli/client.js'
import { checkEnvelope, signEnvelope, type Envelope } from '../../core/envelope.js'
import { generateKeyPair } from '../../core/keys.js'
import { parseDaemonSet } from '../../core/manifest.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { runCli } from '../helpers/cli.js'
import { rawDs } from '../helpers/fixtures.js'

type Refusal = Error & { status?: number }
const dsValue = (name: string) => {
  const d = parseDaemonSet(rawDs({}, { metadata: { name } })).daemonSet
  assert.ok(d)
  return d
}

describe('trust changes (retire, revoke, resign)', () => {
  let cluster: TestCluster
  let agent: TestAgent
  const old = generateKeyPair()
  const oldKey = createPrivateKey(old.privateKeyPem)
  let oldPub = ''
  let oldPut: Envelope | undefined

  const names = async (): Promise<string[]> => (await agent.daemonSets()).map((d) => d.metadata.name).sort()
  const restart = async (extra: string[]): Promise<void> => {
    await agent.stop('SIGTERM')
    await agent.start({ extra })
  }
  const post = (env: unknown): Promise<unknown> => call(agent.target, 'POST', '/v1/envelopes', env)
  const ts = (): { wall: number; logical: number } => ({ wall: Date.now(), logical: 0 })

  before(async () => {
    cluster = await TestCluster.create('sl-trust', 3000)
    oldPub = join(cluster.root, 'old-operator.key.pub')
    await writeFile(oldPub, old.publicKeyPem)
    // The cluster's operator key is the new one (always trusted); the old key is trusted too at first.
    agent = await cluster.agent({ name: 'sl-t-1', extra: ['--trust', oldPub] }).start()
    await post(signEnvelope('ds/default/sl-a', dsValue('sl-a'), ts(), oldKey))
    await post(signEnvelope('ds/default/sl-b', dsValue('sl-b'), ts(), oldKey))
    oldPut = signEnvelope('ds/default/sl-gone', dsValue('sl-gone'), ts(), oldKey)
    await post(oldPut)
    await new Promise((r) => setTimeout(r, 5))
    await post(signEnvelope('ds/default/sl-gone', undefined, ts(), oldKey))
    assert.deepEqual(await names(), ['sl-a', 'sl-b'])
  })

  after(async () => {
    await cluster.stopAll()
  })

  it('a retired key keeps what it signed but signs nothing new; its delete still holds', async () => {
    await restart(['--retired-key', oldPub])
    await waitFor('entries of the retired key kept', async () => (await names()).join() === 'sl-a,sl-b' || undefined, 10_000)
    await assert.rejects(post(signEnvelope('ds/default/sl-new', dsValue('sl-new'), ts(), oldKey)), (e: Refusal) => e.status === 403)
    const gone = await call<Envelope>(agent.target, 'GET', '/v1/envelopes?key=ds/default/sl-gone')
    assert.equal(gone.op, 'delete')
  })

  it('a revoked key loses what it signed, but its tombstones outlive it', async () => {
    await restart([])
    await waitFor('entries of the revoked key dropped', async () => (await names()).length === 0 || undefined, 10_000)
    const gone = await call<Envelope>(agent.target, 'GET', '/v1/envelopes?key=ds/default/sl-gone')
    assert.equal(gone.op, 'delete', 'the tombstone of a revoked key is kept')
    assert.equal(gone.author, old.id)
    assert.ok(oldPut !== undefined)
    await assert.rejects(post(oldPut), (e: Refusal) => e.status === 403, 'an older put of the revoked key is not replayed')
  })

  it('resign --from moves a retired key\'s entries to the current key, which then survive its revocation', async () => {
    await restart(['--retired-key', oldPub])
    await waitFor('entries back while retired', async () => (await names()).join() === 'sl-a,sl-b' || undefined, 10_000)
    const r = await runCli('resign', '--from', oldPub, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /2 entries re-signed/)
    await restart([])
    await waitFor('re-signed entries kept after revocation', async () => (await names()).join() === 'sl-a,sl-b' || undefined, 10_000)
    const a = await call<Envelope>(agent.target, 'GET', '/v1/envelopes?key=ds/default/sl-a')
    assert.notEqual(a.author, old.id)
  })

  it('with a cluster id, a write signed for another cluster is refused; the CLI signs for the agent\'s; resign and require-cluster-id end unbound writes', async () => {
    await restart(['--cluster-id', 'sl-prod'])
    await waitFor('entries kept', async () => (await names()).join() === 'sl-a,sl-b' || undefined, 10_000)
    assert.equal((await agent.health() as unknown as { clusterId?: string }).clusterId, 'sl-prod')
    // The same operator key, a write made for staging: replayed here, refused.
    const replay = signEnvelope('ds/default/sl-staging', dsValue('sl-staging'), ts(), cluster.operatorKey, undefined, 'sl-staging')
    await assert.rejects(post(replay), (e: Refusal) => e.status === 403 && /signed for another cluster than sl-prod/.test(e.message))
    // The CLI signs for the cluster of the agent it writes through.
    const manifest = join(cluster.root, 'sl-bound.yaml')
    await writeFile(manifest, `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: sl-bound}\nspec:\n  selector: {matchLabels: {app: sl-bound}}\n  template:\n    metadata: {labels: {app: sl-bound}}\n    spec: {containers: [{name: c, image: busybox}]}\n`)
    const applied = await runCli('apply', '-f', manifest, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(applied.code, 0, applied.stderr)
    const bound = await call<Envelope>(agent.target, 'GET', '/v1/envelopes?key=ds/default/sl-bound')
    assert.deepEqual(checkEnvelope(bound, { id: 'sl-prod', requireBound: true }), bound)
    // Re-sign what is unbound, then require bound writes: everything stays, unbound writes are refused.
    const r = await runCli('resign', '--from', cluster.operatorPubFile, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await restart(['--cluster-id', 'sl-prod', '--require-cluster-id'])
    await waitFor('every entry kept', async () => (await names()).join() === 'sl-a,sl-b,sl-bound' || undefined, 10_000)
    await assert.rejects(post(signEnvelope('ds/default/sl-unbound', dsValue('sl-unbound'), ts(), cluster.operatorKey)), (e: Refusal) => e.status === 403 && /not bound to a cluster id/.test(e.message))
  })
})
