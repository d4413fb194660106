import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseConfigMap, type ConfigMap } from '../../../core/configmap.js'
import { podPlan } from '../../../core/container-spec.js'
import { formatIssue } from '../../../core/errors.js'
import type { PodObjects } from '../../../core/volumes.js'
import { ds, node } from '../../helpers/fixtures.js'

const cm = (name: string, data: Record<string, string>, binaryData?: Record<string, string>): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data, ...(binaryData === undefined ? {} : { binaryData }) })
const objects = (...cms: ConfigMap[]): PodObjects => ({ configMap: (ns, name) => cms.find((c) => c.metadata.namespace === ns && c.metadata.name === name), secret: () => undefined })
const fluent = cm('fluent-bit', { 'fluent-bit.conf': '[SERVICE]\n    Flush 1\n', 'parsers.conf': '[PARSER]\n', LOG_LEVEL: 'info', 'not-an=env': 'x' }, { 'logo.bin': Buffer.from([0, 1, 2]).toString('base64') })

describe('ConfigMaps', () => {
  it('parseConfigMap keeps what it stores, defaults the namespace, drops other metadata', () => {
    const r = parseConfigMap({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', uid: 'x', labels: { a: 'b' } }, data: { k: 'v' }, immutable: true })
    assert.deepEqual(r, { configMap: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default', labels: { a: 'b' } }, data: { k: 'v' }, immutable: true }, errors: [], warnings: [] })
  })

  const bad: [string, unknown, string[]][] = [
    ['a name that is no DNS subdomain', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' } }, ['metadata.name: Invalid value: "Bad_Name"']],
    ['keys outside [-._a-zA-Z0-9], and . and ..', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { 'a b': '', '..': '' } }, ['data["a b"]: Invalid value: "a b"', 'data[".."]: Invalid value: ".."']],
    ['a key in both data and binaryData; binaryData not base64', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: '' }, binaryData: { k: 'AA==', b: '***' } }, ['binaryData.k: Invalid value: "k": duplicate', 'binaryData.b: Invalid value: must be base64']],
    ['data values that are not strings', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { n: 1 } }, ['data.n: Invalid value: expected string']],
  ]
  for (const [name, input, want] of bad) {
    it(`parseConfigMap refuses ${name}`, () => {
      const r = parseConfigMap(input)
      assert.equal(r.configMap, undefined)
      const got = r.errors.map(formatIssue)
      for (const w of want) assert.ok(got.some((g) => g.startsWith(w)), `want "${w}" in ${got.join('; ')}`)
    })
  }

  it('a volume holds every key as a file, binaryData decoded, with defaultMode', () => {
    const plan = podPlan(ds({ volumes: [{ name: 'config', configMap: { name: 'fluent-bit', defaultMode: 0o640 } }] }), node('n1'), objects(fluent))
    const v = plan.volumes[0]
    assert.equal(v?.kind, 'files')
    assert.deepEqual(v?.kind === 'files' && v.files.map((f) => [f.path, Buffer.from(f.content).toString('hex'), f.mode]), [
      ['fluent-bit.conf', Buffer.from('[SERVICE]\n    Flush 1\n').toString('hex'), 0o640],
      ['parsers.conf', Buffer.from('[PARSER]\n').toString('hex'), 0o640],
      ['LOG_LEVEL', Buffer.from('info').toString('hex'), 0o640],
      ['not-an=env', Buffer.from('x').toString('hex'), 0o640],
      ['logo.bin', '000102', 0o640],
    ])
    assert.deepEqual(plan.missing, [])
    assert.deepEqual(plan.unsupported, [])
  })

  it('items pick keys to paths with their own modes; a listed key the ConfigMap lacks holds the pod back', () => {
    const d = ds({ volumes: [{ name: 'config', configMap: { name: 'fluent-bit', items: [{ key: 'fluent-bit.conf', path: 'etc/fluent.conf', mode: 0o400 }, { key: 'nope', path: 'x' }] } }] })
    const plan = podPlan(d, node('n1'), objects(fluent))
    assert.deepEqual(plan.volumes[0]?.kind === 'files' && plan.volumes[0].files.map((f) => [f.path, f.mode]), [['etc/fluent.conf', 0o400]])
    assert.deepEqual(plan.missing, ['configmap references non-existent config key: nope'])
  })

  it('a missing ConfigMap holds the pod back unless optional', () => {
    const mounted = (optional?: boolean) => podPlan(ds({ volumes: [{ name: 'config', configMap: { name: 'absent', ...(optional === undefined ? {} : { optional }) } }] }), node('n1'), objects())
    assert.deepEqual(mounted().missing, ['configmap "absent" not found'])
    assert.deepEqual(mounted(true).missing, [])
    assert.deepEqual(mounted(true).volumes[0], { kind: 'files', name: 'config', dir: `${mounted(true).pod}/config`, files: [] })
  })

  it('env: configMapKeyRef, envFrom with a prefix (invalid names skipped), env wins over envFrom', () => {
    const d = ds({ containers: [{ name: 'c', image: 'i:1', envFrom: [{ configMapRef: { name: 'fluent-bit' }, prefix: 'FB_' }], env: [{ name: 'FB_LOG_LEVEL', value: 'debug' }, { name: 'LEVEL', valueFrom: { configMapKeyRef: { name: 'fluent-bit', key: 'LOG_LEVEL' } } }, { name: 'OPT', valueFrom: { configMapKeyRef: { name: 'fluent-bit', key: 'absent', optional: true } } }] }] })
    const plan = podPlan(d, node('n1'), objects(fluent))
    assert.deepEqual(plan.containers[0]?.create.Env, ['FB_fluent-bit.conf=[SERVICE]\n    Flush 1\n', 'FB_parsers.conf=[PARSER]\n', 'FB_LOG_LEVEL=debug', 'LEVEL=info'])
    assert.deepEqual(plan.missing, [])
  })

  it('env from a missing ConfigMap or key holds the pod back', () => {
    const d = ds({ containers: [{ name: 'c', image: 'i:1', envFrom: [{ configMapRef: { name: 'absent' } }], env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'fluent-bit', key: 'nope' } } }] }] })
    assert.deepEqual(podPlan(d, node('n1'), objects(fluent)).missing, ['configmap "absent" not found', "couldn't find key nope in ConfigMap default/fluent-bit"])
  })

  it('projected volumes join configMap and downwardAPI sources', () => {
    const d = ds({ volumes: [{ name: 'all', projected: { defaultMode: 0o600, sources: [{ configMap: { name: 'fluent-bit', items: [{ key: 'LOG_LEVEL', path: 'level' }] } }, { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } }] } }] })
    const plan = podPlan(d, node('n1'), objects(fluent))
    assert.deepEqual(plan.volumes[0]?.kind === 'files' && plan.volumes[0].files.map((f) => [f.path, String(f.content), f.mode]), [['level', 'info', 0o600], ['name', 'agent-n1', 0o600]])
  })

  it('a ConfigMap change is no new revision: the pod is the same, its files differ', () => {
    const d = ds({ volumes: [{ name: 'config', configMap: { name: 'fluent-bit' } }] })
    const before = podPlan(d, node('n1'), objects(fluent))
    const after = podPlan(d, node('n1'), objects(cm('fluent-bit', { LOG_LEVEL: 'debug' })))
    assert.equal(after.revision, before.revision)
    assert.equal(after.pod, before.pod)
    assert.notDeepEqual(after.volumes, before.volumes)
  })
})
