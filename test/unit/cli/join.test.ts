import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { runJoin, type JoinOptions } from '../../../cli/commands/join.js'
import { generateClusterKey, generateKeyPair, keyId, parsePrivateKey } from '../../../core/keys.js'
import { signJoinToken } from '../../../core/node-admission.js'
import { generateSecretKey } from '../../../core/secret-box.js'
import { repoPath } from '../../helpers/fixtures.js'
import { tempDir } from '../../helpers/temp-dir.js'

async function inputs(): Promise<{ dir: string; opts: JoinOptions; author: string }> {
  const dir = await tempDir('dm-join-')
  const pair = generateKeyPair()
  const key = parsePrivateKey(pair.privateKeyPem)
  const token = signJoinToken({ id: 'abcdefghijklmnopqrstuv', names: 'shop-*', issuedAt: Date.now(), ttlMs: 3_600_000 }, key)
  await writeFile(join(dir, 'edge.token'), JSON.stringify(token))
  await writeFile(join(dir, 'cluster.key'), generateClusterKey())
  await writeFile(join(dir, 'secret.key'), generateSecretKey())
  await writeFile(join(dir, 'op.pub'), pair.publicKeyPem)
  const opts: JoinOptions = { token: join(dir, 'edge.token'), clusterKey: join(dir, 'cluster.key'), bootstrap: ['/ip4/10.0.0.1/tcp/7946'], name: 'shop-1', config: join(dir, 'etc', 'agent.yaml'), dataDir: join(dir, 'data'), start: false }
  return { dir, opts, author: keyId(key) }
}

const sink = (): NodeJS.WritableStream & { text: string } => {
  const s = { text: '', write(c: string) { s.text += c; return true } }
  return s as unknown as NodeJS.WritableStream & { text: string }
}

describe('daemonmesh join', () => {
  it('writes the config and copies the token and keys beside it; trusts the token\'s signer by default', async () => {
    const { dir, opts, author } = await inputs()
    const out = sink()
    await runJoin({ ...opts, label: ['zone=a'] }, out)
    const etc = join(dir, 'etc')
    assert.deepEqual((await readdir(etc)).sort(), ['agent.yaml', 'cluster.key', 'join.token'])
    const cfg = parse(await readFile(join(etc, 'agent.yaml'), 'utf8')) as Record<string, unknown>
    assert.deepEqual(cfg, {
      name: 'shop-1', labels: { zone: 'a' }, listen: ['/ip4/0.0.0.0/tcp/7946'], bootstrap: ['/ip4/10.0.0.1/tcp/7946'], dataDir: join(dir, 'data'),
      clusterKey: join(etc, 'cluster.key'), secretKey: 'none', trust: [author], admission: 'enforced', joinToken: join(etc, 'join.token'), api: 'unix:///run/daemonmesh/agent.sock',
    })
    assert.equal(await readFile(join(etc, 'cluster.key'), 'utf8'), await readFile(opts.clusterKey!, 'utf8'))
    assert.match(out.text, /not started \(--no-start\): run daemonmesh agent --config /)
    // The same inputs again: nothing differs, nothing to force.
    await runJoin({ ...opts, label: ['zone=a'] }, sink())
  })

  it('--secret-key and --trust FILE are copied and read', async () => {
    const { dir, opts, author } = await inputs()
    await runJoin({ ...opts, secretKey: join(dir, 'secret.key'), trust: [join(dir, 'op.pub')] }, sink())
    const cfg = parse(await readFile(join(dir, 'etc', 'agent.yaml'), 'utf8')) as Record<string, unknown>
    assert.equal(cfg.secretKey, join(dir, 'etc', 'secret.key'))
    assert.deepEqual(cfg.trust, [author])
  })

  it('an existing config is replaced only with --force, or when it is the package\'s untouched example', async () => {
    const { dir, opts } = await inputs()
    await runJoin(opts, sink())
    await assert.rejects(runJoin({ ...opts, bootstrap: ['/ip4/10.0.0.2/tcp/7946'] }, sink()), /agent\.yaml exists; pass --force to replace it/)
    await runJoin({ ...opts, bootstrap: ['/ip4/10.0.0.2/tcp/7946'], force: true }, sink())
    assert.match(await readFile(join(dir, 'etc', 'agent.yaml'), 'utf8'), /10\.0\.0\.2/)
    const { opts: o2 } = await inputs()
    await mkdir(join(dir, 'ex'))
    await writeFile(join(dir, 'ex', 'agent.yaml'), await readFile(repoPath('systemd/agent.yaml'), 'utf8'))
    await runJoin({ ...o2, config: join(dir, 'ex', 'agent.yaml') }, sink())
    assert.match(await readFile(join(dir, 'ex', 'agent.yaml'), 'utf8'), /^# Written by `daemonmesh join`/)
  })

  const bad: [string, (o: JoinOptions, dir: string) => Promise<JoinOptions>, RegExp][] = [
    ['no token', async (o) => ({ ...o, token: undefined }), /--token FILE is required/],
    ['a token file that is not one', async (o, d) => (await writeFile(join(d, 'x'), '{"v":1}'), { ...o, token: join(d, 'x') }), /--token .*: not a join token: id: Required/],
    ['a missing cluster key', async (o, d) => ({ ...o, clusterKey: join(d, 'nope') }), /--cluster-key .*nope: ENOENT/],
    ['a cluster key that is not one', async (o, d) => (await writeFile(join(d, 'x'), 'hello'), { ...o, clusterKey: join(d, 'x') }), /--cluster-key .*: not a cluster key/],
    ['a bad secret key', async (o, d) => (await writeFile(join(d, 'x'), 'hello'), { ...o, secretKey: join(d, 'x') }), /--secret-key /],
    ['no bootstrap', async (o) => ({ ...o, bootstrap: [] }), /--bootstrap ADDR is required/],
    ['a bootstrap that is not a multiaddr', async (o) => ({ ...o, bootstrap: ['10.0.0.1:7946'] }), /--bootstrap 10\.0\.0\.1:7946: not a multiaddr/],
    ['a name the token does not admit', async (o) => ({ ...o, name: 'lab-1' }), /--name lab-1: the token admits only names shop-\*/],
    ['a bad name', async (o) => ({ ...o, name: 'Shop_1' }), /--name: Invalid value: "Shop_1"/],
    ['a bad label', async (o) => ({ ...o, label: ['zone'] }), /--label zone: use KEY=VALUE/],
    ['a bad api', async (o) => ({ ...o, api: 'http://10.0.0.1:80' }), /--api: Invalid value/],
    ['a bad trust file', async (o, d) => ({ ...o, trust: [join(d, 'cluster.key')] }), /--trust .*cluster\.key: not a public key/],
  ]
  for (const [what, change, message] of bad) {
    it(`refuses ${what}, naming the flag, and writes nothing`, async () => {
      const { dir, opts } = await inputs()
      await assert.rejects(runJoin(await change(opts, dir), sink()), message)
      assert.deepEqual((await readdir(dir)).filter((f) => f === 'etc'), [])
    })
  }
})
