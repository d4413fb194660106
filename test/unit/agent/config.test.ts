import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { ConfigError, readConfigFile, resolveConfig } from '../../../agent/config.js'
import { parseDuration } from '../../../core/duration.js'
import { repoPath } from '../../helpers/fixtures.js'
import { tempDir } from '../../helpers/temp-dir.js'

describe('agent configuration', () => {
  it('the example config file is valid', async () => {
    const c = resolveConfig(await readConfigFile(repoPath('systemd/agent.yaml')), {})
    assert.equal(c.name, 'edge-1')
    assert.equal(c.labels.zone, 'lab-a')
    assert.equal(c.labels['kubernetes.io/hostname'], 'edge-1')
    assert.deepEqual(c.taints, [{ key: 'dedicated', value: 'storage', effect: 'NoSchedule' }])
    assert.equal(c.heartbeatMs, 1000)
    assert.equal(c.api, 'unix:///run/daemonmesh/agent.sock')
    assert.equal(c.policySet, true)
    assert.deepEqual(c.policy.rules.allowedHostPaths, ['/var/log', '/run/containerd'])
  })

  it('a policy with a relative host path prefix is refused, naming the field', async () => {
    const dir = await tempDir('dm-cfg-')
    await writeFile(join(dir, 'a.yaml'), 'policy:\n  allowedHostPaths: [var/log]\n')
    await assert.rejects(readConfigFile(join(dir, 'a.yaml')), (err: Error) => err.name === 'ConfigError' && /policy\.allowedHostPaths\.0: must be an absolute path/.test(err.message))
  })

  it('flags override the file; label flags add to its labels', () => {
    const c = resolveConfig({ name: 'a', labels: { x: '1', y: '2' }, heartbeat: '2s', suspicion: '10s' }, { name: 'b', labels: { y: '3' } })
    assert.equal(c.name, 'b')
    assert.equal(c.labels.x, '1')
    assert.equal(c.labels.y, '3')
    assert.equal(c.heartbeatMs, 2000)
  })

  it('the defaults need no file', () => {
    const c = resolveConfig({}, {})
    assert.deepEqual(c.listen, ['/ip4/0.0.0.0/tcp/7946'])
    assert.match(c.api, /^unix:\/\/.*\.daemonmesh\/agent\.sock$/)
    assert.match(c.clusterKey, /\.daemonmesh\/cluster\.key$/)
    assert.equal(c.nodeIP, undefined, 'the agent chooses the host IP')
    assert.equal(resolveConfig({ nodeIP: '10.0.0.5' }, {}).nodeIP, '10.0.0.5')
    // One probe a second, and a suspicion floor of one period (docs/membership.md).
    assert.equal(c.heartbeatMs, 1000)
    assert.equal(c.suspicionMs, 1000)
  })

  it('the metrics address is off by default; HOST:PORT or [V6]:PORT, the flag over the file', () => {
    assert.equal(resolveConfig({}, {}).metricsAddr, undefined)
    assert.equal(resolveConfig({ metricsAddr: '0.0.0.0:9464' }, {}).metricsAddr, '0.0.0.0:9464')
    assert.equal(resolveConfig({ metricsAddr: '0.0.0.0:9464' }, { metricsAddr: '[::1]:9100' }).metricsAddr, '[::1]:9100')
    for (const bad of ['9464', 'localhost', 'host:0', 'host:70000', ':9464', 'http://host:9464']) {
      assert.throws(() => resolveConfig({ metricsAddr: bad }, {}), (e: unknown) => e instanceof ConfigError && /metricsAddr: Invalid value/.test(e.message), bad)
    }
  })

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['a bad node name', { name: 'Not_A_Name' }, /name: Invalid value: "Not_A_Name"/],
    ['a bad taint', { taints: ['dedicated=gpu:Sometimes'] }, /taints\[0\]: invalid taint/],
    ['a bad duration', { heartbeat: 'soon' }, /heartbeat: Invalid value: "soon"/],
    ['suspicion shorter than one heartbeat', { heartbeat: '1s', suspicion: '900ms' }, /suspicion: Invalid value: 900ms: must be at least one heartbeat \(1000ms\)/],
    ['a TCP API without a token', { api: 'http://0.0.0.0:7947' }, /apiTokenFile: required/],
    ['a bad API address', { api: 'ftp://x' }, /api: Invalid value/],
    ['a bad log level', { logLevel: 'loud' }, /logLevel: Unsupported value/],
    ['a listen address that is not a multiaddr', { listen: ['0.0.0.0:7946'] }, /listen\[0\]: Invalid value/],
    ['no Docker calls at all', { dockerConcurrency: 0 }, /dockerConcurrency: Invalid value: 0: between 1 and 64/],
    ['more Docker calls at once than any engine wants', { dockerConcurrency: 1000 }, /dockerConcurrency: Invalid value: 1000/],
    ['a node IP that is not an IP', { nodeIP: 'eth0' }, /nodeIP: Invalid value: "eth0": an IPv4 or IPv6 address/],
    ['a lease committee no larger than the voters that may lie', { faultyVoters: 2, leaseCommittee: 2 }, /leaseCommittee: Invalid value: 2: between faultyVoters \+ 1 \(3\) and 255/],
    ['a lease committee past 255', { leaseCommittee: 256 }, /leaseCommittee: Invalid value: 256/],
  ]
  for (const [name, input, re] of bad) {
    it(`refuses ${name}, naming the field`, () => {
      assert.throws(() => resolveConfig(input as never, {}), (e: unknown) => e instanceof ConfigError && re.test(e.message))
    })
  }

  it('the lease committee: 9 by default, the flag over the file', () => {
    assert.equal(resolveConfig({}, {}).leaseCommittee, 9)
    assert.equal(resolveConfig({ leaseCommittee: 15 }, {}).leaseCommittee, 15)
    assert.equal(resolveConfig({ leaseCommittee: 15 }, { leaseCommittee: 5 }).leaseCommittee, 5)
  })

  it('Docker calls at once: 4 by default, the flag over the file', () => {
    assert.equal(resolveConfig({}, {}).dockerConcurrency, 4)
    assert.equal(resolveConfig({ dockerConcurrency: 8 }, {}).dockerConcurrency, 8)
    assert.equal(resolveConfig({ dockerConcurrency: 8 }, { dockerConcurrency: 2 }).dockerConcurrency, 2)
  })

  it('the cluster id: none by default; validated; requireClusterId needs one', () => {
    assert.equal(resolveConfig({}, {}).clusterId, undefined)
    assert.equal(resolveConfig({}, {}).requireClusterId, false)
    assert.deepEqual([resolveConfig({ clusterId: 'prod-eu' }, { requireClusterId: true })].map((c) => [c.clusterId, c.requireClusterId]), [['prod-eu', true]])
    assert.throws(() => resolveConfig({ clusterId: 'Prod EU' }, {}), /clusterId: Invalid value: "Prod EU"/)
    assert.throws(() => resolveConfig({ requireClusterId: true }, {}), /clusterId: Required value: requireClusterId needs clusterId/)
  })

  it('a fractional dockerConcurrency in the file is refused', async () => {
    const dir = await tempDir('dm-cfg-')
    await writeFile(join(dir, 'a.yaml'), 'dockerConcurrency: 2.5\n')
    await assert.rejects(readConfigFile(join(dir, 'a.yaml')), /dockerConcurrency/)
  })

  it('unknown keys in the file are refused', async () => {
    const dir = await tempDir('dm-cfg-')
    await writeFile(join(dir, 'a.yaml'), 'name: x\nbootstrapp: []\n')
    await assert.rejects(readConfigFile(join(dir, 'a.yaml')), /unknown field\(s\) bootstrapp/)
  })

  it('durations parse', () => {
    assert.equal(parseDuration('500ms'), 500)
    assert.equal(parseDuration('1.5s'), 1500)
    assert.equal(parseDuration('5m'), 300_000)
    assert.equal(parseDuration(250), 250)
    assert.equal(parseDuration('5 minutes'), undefined)
  })
})
