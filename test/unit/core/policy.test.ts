import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkPolicy, OPEN_POLICY, policyOf, policySchema, underPrefix } from '../../../core/policy.js'
import type { DaemonSet, PodSpec } from '../../../core/types.js'

const KEY_A = 'A'.repeat(43)
const KEY_B = 'B'.repeat(43)

function ds(spec: Partial<PodSpec>, namespace = 'default'): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace },
    spec: { selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'main', image: 'busybox' }], ...spec } } },
  } as DaemonSet
}

test('with no policy every DaemonSet may run', () => {
  const d = ds({ hostNetwork: true, hostPID: true, volumes: [{ name: 'root', hostPath: { path: '/' } }], containers: [{ name: 'm', image: 'x', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } }] })
  assert.deepEqual(checkPolicy(OPEN_POLICY, d, KEY_A), [])
})

test('an empty policy is strict: every host-reaching field is refused, by rule', () => {
  const d = ds({ hostNetwork: true, hostIPC: true, volumes: [{ name: 'logs', hostPath: { path: '/var/log' } }], initContainers: [{ name: 'init', image: 'x', securityContext: { privileged: true } }], containers: [{ name: 'm', image: 'x', securityContext: { capabilities: { add: ['CAP_NET_ADMIN'] } } }] })
  const rules = checkPolicy(policyOf({}), d, KEY_A).map((r) => r.split(':')[0])
  assert.deepEqual(rules, ['allowPrivileged', 'allowHostNamespaces', 'allowHostNamespaces', 'allowedCapabilities', 'allowedHostPaths'])
})

test('a plain DaemonSet passes an empty policy', () => {
  assert.deepEqual(checkPolicy(policyOf({}), ds({}), KEY_A), [])
})

test('host path prefixes match whole segments', () => {
  assert.equal(underPrefix('/var/log', '/var/log'), true)
  assert.equal(underPrefix('/var/log/app', '/var/log/'), true)
  assert.equal(underPrefix('/var/logs', '/var/log'), false)
  assert.equal(underPrefix('/etc', '/'), true)
  const p = policyOf({ allowedHostPaths: ['/var/log'] })
  assert.deepEqual(checkPolicy(p, ds({ volumes: [{ name: 'v', hostPath: { path: '/var/log/app' } }] }), KEY_A), [])
  assert.match(checkPolicy(p, ds({ volumes: [{ name: 'v', hostPath: { path: '/var/logs' } }] }), KEY_A)[0] ?? '', /^allowedHostPaths: volume v: \/var\/logs is not under/)
})

test('a host path that climbs out with .. is refused even under an allowed prefix', () => {
  const p = policyOf({ allowedHostPaths: ['/var/log'] })
  assert.match(checkPolicy(p, ds({ volumes: [{ name: 'v', hostPath: { path: '/var/log/../../etc' } }] }), KEY_A)[0] ?? '', /\.\. segments/)
})

test('a colon in an allowed host path is no problem (mounts are structured)', () => {
  const p = policyOf({ allowedHostPaths: ['/srv'] })
  assert.deepEqual(checkPolicy(p, ds({ volumes: [{ name: 'v', hostPath: { path: '/srv/a:b' } }] }), KEY_A), [])
})

test('capabilities are compared without CAP_ and case; ALL allows any', () => {
  const d = ds({ containers: [{ name: 'm', image: 'x', securityContext: { capabilities: { add: ['cap_net_admin', 'NET_RAW'] } } }] })
  assert.deepEqual(checkPolicy(policyOf({ allowedCapabilities: ['NET_ADMIN', 'CAP_NET_RAW'] }), d, KEY_A), [])
  assert.deepEqual(checkPolicy(policyOf({ allowedCapabilities: ['NET_ADMIN'] }), d, KEY_A), ['allowedCapabilities: container m adds NET_RAW'])
  assert.deepEqual(checkPolicy(policyOf({ allowedCapabilities: ['ALL'] }), d, KEY_A), [])
})

test('per-key rules override the policy for that key only', () => {
  const p = policyOf({ allowedNamespaces: ['apps'], keys: { [KEY_B]: { allowPrivileged: true, allowedNamespaces: ['kube-system'] } } })
  const priv = ds({ containers: [{ name: 'm', image: 'x', securityContext: { privileged: true } }] }, 'kube-system')
  assert.deepEqual(checkPolicy(p, priv, KEY_B), [])
  assert.deepEqual(checkPolicy(p, priv, KEY_A).map((r) => r.split(':')[0]), ['allowedNamespaces', 'allowPrivileged'])
  assert.deepEqual(checkPolicy(p, ds({}, 'apps'), KEY_A), [])
})

test('the config schema refuses relative prefixes, unknown fields and keys that are not key ids', () => {
  assert.equal(policySchema.safeParse({ allowedHostPaths: ['var/log'] }).success, false)
  assert.equal(policySchema.safeParse({ allowedHostPaths: ['/var/../etc'] }).success, false)
  assert.equal(policySchema.safeParse({ allowPriviledged: true }).success, false)
  assert.equal(policySchema.safeParse({ keys: { 'not-a-key': {} } }).success, false)
  assert.equal(policySchema.safeParse({ keys: { [KEY_A]: { allowPrivileged: true } } }).success, true)
})
