import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '../../../core/keys.js'
import { Prefix, StoreKey, dsRef, isNodeName, parseDsKey, parseDsLabel, parseStoreKey, refOf, type DsRef, type ParsedKey } from '../../../core/keyspace.js'
import { ds } from '../../helpers/fixtures.js'

const LONG_NAME = `a${'b'.repeat(251)}c` // 253 characters: the longest subdomain
const KEY_ID = generateKeyPair().id
const plain = (r: DsRef | undefined): { namespace: string; name: string } | undefined => (r === undefined ? undefined : { namespace: r.namespace, name: r.name })

describe('dsRef and refOf', () => {
  const cases: [string, DsRef, { namespace: string; name: string; key: string; label: string }][] = [
    ['a reference spells its key with a slash and its label with a dot', dsRef('kube-system', 'fluentd'), { namespace: 'kube-system', name: 'fluentd', key: 'kube-system/fluentd', label: 'kube-system.fluentd' }],
    ['an undefined namespace is "default"', dsRef(undefined, 'agent'), { namespace: 'default', name: 'agent', key: 'default/agent', label: 'default.agent' }],
    ['a dotted name keeps its dots in both spellings', dsRef('monitoring', 'node-exporter.v2'), { namespace: 'monitoring', name: 'node-exporter.v2', key: 'monitoring/node-exporter.v2', label: 'monitoring.node-exporter.v2' }],
    ['refOf reads a parsed DaemonSet, namespace defaulted', refOf(ds()), { namespace: 'default', name: 'agent', key: 'default/agent', label: 'default.agent' }],
    ['refOf keeps an explicit namespace', refOf(ds({}, { metadata: { namespace: 'kube-system', name: 'fluentd' } })), { namespace: 'kube-system', name: 'fluentd', key: 'kube-system/fluentd', label: 'kube-system.fluentd' }],
  ]
  for (const [name, got, want] of cases) it(name, () => assert.deepEqual({ ...got }, want))

  it('a reference cannot be changed after it is made', () => {
    const r = dsRef('default', 'agent')
    assert.throws(() => {
      ;(r as { name: string }).name = 'other'
    }, TypeError)
  })
})

describe('parseDsKey and parseDsLabel', () => {
  const refs: [string, DsRef][] = [
    ['a plain name', dsRef('default', 'agent')],
    ['a dotted name', dsRef('kube-system', 'fluentd.elasticsearch.v1')],
    ['a one-character namespace and name', dsRef('a', 'b')],
    ['a 253-character name', dsRef('default', LONG_NAME)],
    ['a 63-character namespace', dsRef(`n${'s'.repeat(61)}n`, 'agent')],
  ]
  for (const [name, r] of refs) {
    it(`the key form of ${name} reads back to the same reference`, () => assert.deepEqual(parseDsKey(r.key), r))
    it(`the label form of ${name} reads back to the same reference`, () => assert.deepEqual(parseDsLabel(r.label), r))
  }

  const keys: [string, string, { namespace: string; name: string } | undefined][] = [
    ['the key form splits at the first slash', 'kube-system/fluentd', { namespace: 'kube-system', name: 'fluentd' }],
    ['a key with no slash is refused', 'fluentd', undefined],
    ['a key with a second slash is refused', 'default/a/b', undefined],
    ['a key with an empty namespace is refused', '/agent', undefined],
    ['a key with an empty name is refused', 'default/', undefined],
    ['an uppercase key is refused', 'Default/Agent', undefined],
    ['a dotted namespace in the key form is refused', 'kube.system/agent', undefined],
    ['a name starting with a dash is refused', 'default/-agent', undefined],
    ['a name ending with a dot is refused', 'default/agent.', undefined],
    ['a name with two dots in a row is refused, as Kubernetes refuses it', 'default/a..b', undefined],
    ['a name with a dash after a dot is refused, as Kubernetes refuses it', 'default/a.-b', undefined],
    ['a 254-character name is refused', `default/${LONG_NAME}x`, undefined],
    ['a 64-character namespace is refused', `${'n'.repeat(64)}/agent`, undefined],
    ['a path-traversal name is refused', 'default/..', undefined],
    ['whitespace is refused', 'default/ agent', undefined],
    ['the label form is not a key', 'default.agent', undefined],
  ]
  for (const [name, text, want] of keys) it(name, () => assert.deepEqual(plain(parseDsKey(text)), want))

  const labels: [string, string, { namespace: string; name: string } | undefined][] = [
    ['the label form splits at the first dot: the namespace has none', 'kube-system.fluentd.v2', { namespace: 'kube-system', name: 'fluentd.v2' }],
    ['a label with no dot is refused', 'fluentd', undefined],
    ['a label with an empty namespace is refused', '.agent', undefined],
    ['a label with an empty name is refused', 'default.', undefined],
    ['an uppercase label is refused', 'default.Agent', undefined],
    ['the key form is not a label', 'default/agent', undefined],
  ]
  for (const [name, text, want] of labels) it(name, () => assert.deepEqual(plain(parseDsLabel(text)), want))
})

describe('isNodeName', () => {
  const cases: [string, string, boolean][] = [
    ['a plain host name is a node name', 'host-1', true],
    ['a dotted host name is a node name', 'host-1.rack-2.example', true],
    ['a 253-character name is a node name', LONG_NAME, true],
    ['an empty name is not', '', false],
    ['an uppercase name is not', 'Host-1', false],
    ['a name with a slash is not', 'host/1', false],
    ['a name with an empty dotted part is not', 'host..example', false],
    ['a 254-character name is not', `${LONG_NAME}x`, false],
  ]
  for (const [name, text, want] of cases) it(name, () => assert.equal(isNodeName(text), want))
})

describe('store keys', () => {
  const fluentd = dsRef('kube-system', 'fluentd.v2')
  const roundTrips: [string, string, string, ParsedKey][] = [
    ['a DaemonSet key reads back to its reference', StoreKey.daemonSet(fluentd), 'ds/kube-system/fluentd.v2', { kind: 'daemonSet', ref: fluentd }],
    ['a history key reads back to its reference', StoreKey.history(fluentd), 'history/kube-system/fluentd.v2', { kind: 'history', ref: fluentd }],
    ['a pod delete key reads back to its reference and node, dots in both', StoreKey.podDelete(fluentd, 'host-1.example'), 'pods/kube-system/fluentd.v2/host-1.example', { kind: 'podDelete', ref: fluentd, node: 'host-1.example' }],
    ['an overlay key reads back to its node', StoreKey.overlay('host-1.example'), 'nodes/host-1.example', { kind: 'overlay', node: 'host-1.example' }],
    ['a node record key reads back to its key id', StoreKey.nodeRecord(KEY_ID), `node/${KEY_ID}`, { kind: 'nodeRecord', keyId: KEY_ID }],
  ]
  for (const [name, key, spelled, want] of roundTrips) {
    it(name, () => {
      assert.equal(key, spelled)
      assert.deepEqual(parseStoreKey(key), want)
    })
  }

  it('every key starts with the prefix of its kind', () => {
    assert.ok(StoreKey.daemonSet(fluentd).startsWith(Prefix.daemonSet))
    assert.ok(StoreKey.history(fluentd).startsWith(Prefix.history))
    assert.ok(StoreKey.podDelete(fluentd, 'h').startsWith(Prefix.podDelete))
    assert.ok(StoreKey.overlay('h').startsWith(Prefix.overlay))
    assert.ok(StoreKey.nodeRecord(KEY_ID).startsWith(Prefix.nodeRecord))
  })

  const malformed: [string, string][] = [
    ['an empty key', ''],
    ['a bare prefix', 'ds/'],
    ['a DaemonSet key without a namespace', 'ds/agent'],
    ['a DaemonSet key with an extra segment', 'ds/a/b/c'],
    ['a DaemonSet key with an empty namespace', 'ds//x'],
    ['a DaemonSet key with an empty name', 'ds/default/'],
    ['a DaemonSet key in upper case', 'ds/Default/Agent'],
    ['a DaemonSet key in the label form', 'ds/default.agent'],
    ['a DaemonSet key with a dot-dot name', 'ds/default/..'],
    ['a DaemonSet key with a 300-character name', `ds/default/${'a'.repeat(300)}`],
    ['a history key with an extra segment', 'history/default/agent/x'],
    ['a pod delete key without a node', 'pods/default/agent'],
    ['a pod delete key with an empty node', 'pods/default/agent/'],
    ['a pod delete key with an extra segment', 'pods/default/a/b/host-1'],
    ['a pod delete key with an uppercase node', 'pods/default/agent/Host-1'],
    ['an overlay key with a slash in the node', 'nodes/host/1'],
    ['an overlay key with an empty node', 'nodes/'],
    ['a node record key that is not a key id', 'node/host-1'],
    ['a node record key one character short', `node/${KEY_ID.slice(1)}`],
    ['an unknown prefix', 'secrets/default/agent'],
    ['a prefix without its slash', 'dsdefault/agent'],
    ['a leading slash', '/ds/default/agent'],
  ]
  for (const [name, key] of malformed) it(`${name} is refused`, () => assert.equal(parseStoreKey(key), undefined))
})
