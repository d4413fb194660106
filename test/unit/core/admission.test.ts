import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkStoreValue } from '../../../core/admission.js'
import { recordRevision } from '../../../core/history.js'
import { generateKeyPair } from '../../../core/keys.js'
import { StoreKey, dsRef } from '../../../core/keyspace.js'
import { EMPTY_OVERLAY } from '../../../core/overlay.js'
import { ds, rawDs } from '../../helpers/fixtures.js'

type Want = undefined | RegExp
type Case = [name: string, key: string, op: 'put' | 'delete', value: unknown, want: Want]

const agent = dsRef('default', 'agent')
const fluentd = dsRef('kube-system', 'fluentd.v2')
const fluentdDs = rawDs({}, { metadata: { namespace: 'kube-system', name: 'fluentd.v2' } })
const history = recordRevision(undefined, ds(), 1)
const overlay = { labels: { disk: 'ssd' }, removeLabels: ['zone'], taints: [{ key: 'maintenance', value: 'yes', effect: 'NoExecute' }], removeTaints: [{ key: 'gpu', effect: 'NoSchedule' }] }
const keyId = generateKeyPair().id
const unknown = (key: string): RegExp => new RegExp(`^unknown key ${key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`)

const cases: Case[] = [
  // 1. The key must be a store key.
  ['an empty key is unknown', '', 'put', rawDs(), unknown('')],
  ['an unknown prefix is refused', 'secrets/default/agent', 'put', rawDs(), unknown('secrets/default/agent')],
  ['a DaemonSet key with an extra segment is refused, even for a delete', 'ds/a/b/c', 'delete', undefined, unknown('ds/a/b/c')],
  ['a DaemonSet key with an empty namespace is refused', 'ds//x', 'put', rawDs({}, { metadata: { name: 'x' } }), unknown('ds//x')],
  ['a DaemonSet key in upper case is refused', 'ds/Default/Agent', 'put', rawDs(), unknown('ds/Default/Agent')],
  ['a DaemonSet key with a dot-dot name is refused', 'ds/default/..', 'delete', undefined, unknown('ds/default/..')],
  ['a DaemonSet key with a 300-character name is refused', `ds/default/${'a'.repeat(300)}`, 'put', rawDs({}, { metadata: { name: 'a'.repeat(300) } }), /^unknown key ds\/default\/a{300}$/],
  ['a DaemonSet key in the label form is refused', 'ds/default.agent', 'put', rawDs(), unknown('ds/default.agent')],
  ['a history key with an extra segment is refused', 'history/default/agent/x', 'put', history, unknown('history/default/agent/x')],
  ['a pod delete key without a node is refused', 'pods/default/agent', 'put', { revision: 'abc', since: 1 }, unknown('pods/default/agent')],
  ['an overlay key with a slash in the node is refused', 'nodes/host/1', 'put', EMPTY_OVERLAY, unknown('nodes/host/1')],
  ['an overlay key with an uppercase node is refused', 'nodes/Host-1', 'delete', undefined, unknown('nodes/Host-1')],
  ['a node record key is refused: records live in the membership map', StoreKey.nodeRecord(keyId), 'put', { name: 'host-1' }, unknown(`node/${keyId}`)],
  ['a node record delete is refused as well', StoreKey.nodeRecord(keyId), 'delete', undefined, unknown(`node/${keyId}`)],

  // 2. A DaemonSet put must be a valid DaemonSet.
  ['a valid DaemonSet under its own key is stored', StoreKey.daemonSet(agent), 'put', rawDs(), undefined],
  ['a DaemonSet with a dotted name under its own key is stored', StoreKey.daemonSet(fluentd), 'put', fluentdDs, undefined],
  ['a DaemonSet with no containers is refused, with the field', StoreKey.daemonSet(agent), 'put', rawDs({ containers: [] }), /^invalid DaemonSet: spec\.template\.spec\.containers/],
  ['a DaemonSet of another apiVersion is refused', StoreKey.daemonSet(agent), 'put', rawDs({}, { apiVersion: 'apps/v2' }), /^invalid DaemonSet: apiVersion: Unsupported value/],
  ['a put that is not an object is refused', StoreKey.daemonSet(agent), 'put', 'apiVersion: apps/v1', /^invalid DaemonSet: /],
  ['a put of null is refused', StoreKey.daemonSet(agent), 'put', null, /^invalid DaemonSet: /],

  // 3. ... stored under its own namespace and name.
  ['a DaemonSet without a namespace is in "default", and refused under another namespace', 'ds/kube-system/agent', 'put', rawDs(), /^DaemonSet default\/agent stored under ds\/kube-system\/agent$/],
  ['a DaemonSet under another name is refused', 'ds/default/other', 'put', rawDs(), /^DaemonSet default\/agent stored under ds\/default\/other$/],
  ['a DaemonSet of another namespace is refused under "default"', 'ds/default/fluentd.v2', 'put', fluentdDs, /^DaemonSet kube-system\/fluentd\.v2 stored under ds\/default\/fluentd\.v2$/],

  // 4. A DaemonSet delete carries nothing or a cascade mode.
  ['a DaemonSet delete with nothing is stored', StoreKey.daemonSet(agent), 'delete', undefined, undefined],
  ['a DaemonSet delete with cascade background is stored', StoreKey.daemonSet(agent), 'delete', { cascade: 'background' }, undefined],
  ['a DaemonSet delete with cascade orphan is stored', StoreKey.daemonSet(agent), 'delete', { cascade: 'orphan' }, undefined],
  ['a DaemonSet delete with cascade foreground is refused (the CLI maps it to background)', StoreKey.daemonSet(agent), 'delete', { cascade: 'foreground' }, /^a delete may only carry \{"cascade": "background"\|"orphan"\}$/],
  ['a DaemonSet delete with another field besides cascade is refused', StoreKey.daemonSet(agent), 'delete', { cascade: 'orphan', force: true }, /^a delete may only carry/],
  ['a DaemonSet delete carrying a whole DaemonSet is refused', StoreKey.daemonSet(agent), 'delete', rawDs(), /^a delete may only carry/],
  ['a DaemonSet delete carrying null is refused', StoreKey.daemonSet(agent), 'delete', null, /^a delete may only carry/],

  // 5. A history put is a revision history.
  ['a history is stored', StoreKey.history(agent), 'put', history, undefined],
  ['an empty history is stored', StoreKey.history(fluentd), 'put', { revisions: [] }, undefined],
  ['a history with revision 0 is refused, with the field', StoreKey.history(agent), 'put', { revisions: [{ ...history.revisions[0], revision: 0 }] }, /^invalid revision history: revisions\.0\.revision: /],
  ['a history with an extra field is refused', StoreKey.history(agent), 'put', { ...history, owner: 'x' }, /^invalid revision history: : Unrecognized key/],
  ['a history with 1002 revisions is refused', StoreKey.history(agent), 'put', { revisions: Array.from({ length: 1002 }, () => history.revisions[0]) }, /^invalid revision history: revisions: /],
  ['a DaemonSet stored under a history key is refused', StoreKey.history(agent), 'put', rawDs(), /^invalid revision history: /],

  // 6. A pod delete request put is {revision, since}.
  ['a pod delete request is stored', StoreKey.podDelete(agent, 'host-1'), 'put', { revision: 'abc123', since: 1_700_000_000_000 }, undefined],
  ['a pod delete request for a dotted node and DaemonSet is stored', StoreKey.podDelete(fluentd, 'host-1.example'), 'put', { revision: 'abc123', since: 0 }, undefined],
  ['a pod delete request without since is refused', StoreKey.podDelete(agent, 'host-1'), 'put', { revision: 'abc123' }, /^a pod delete request is \{"revision": HASH, "since": MS\}$/],
  ['a pod delete request with a negative since is refused', StoreKey.podDelete(agent, 'host-1'), 'put', { revision: 'abc123', since: -1 }, /^a pod delete request is/],
  ['a pod delete request with a fractional since is refused', StoreKey.podDelete(agent, 'host-1'), 'put', { revision: 'abc123', since: 1.5 }, /^a pod delete request is/],
  ['a pod delete request with a 65-character revision is refused', StoreKey.podDelete(agent, 'host-1'), 'put', { revision: 'a'.repeat(65), since: 1 }, /^a pod delete request is/],
  ['a pod delete request with an extra field is refused', StoreKey.podDelete(agent, 'host-1'), 'put', { revision: 'abc123', since: 1, all: true }, /^a pod delete request is/],

  // 7. A node overlay put is an overlay.
  ['an empty overlay is stored', StoreKey.overlay('host-1'), 'put', EMPTY_OVERLAY, undefined],
  ['an overlay with labels and taints is stored', StoreKey.overlay('host-1.example'), 'put', overlay, undefined],
  ['an overlay missing a field is refused, with the field', StoreKey.overlay('host-1'), 'put', { labels: {}, removeLabels: [], taints: [] }, /^invalid node overlay: removeTaints: Required$/],
  ['an overlay with labels as a list is refused', StoreKey.overlay('host-1'), 'put', { ...EMPTY_OVERLAY, labels: ['disk=ssd'] }, /^invalid node overlay: labels: /],
  ['an overlay with a taint of no effect is refused', StoreKey.overlay('host-1'), 'put', { ...EMPTY_OVERLAY, taints: [{ key: 'k' }] }, /^invalid node overlay: taints\.0\.effect: /],
  ['an overlay with a 64-character label value is refused', StoreKey.overlay('host-1'), 'put', { ...EMPTY_OVERLAY, labels: { k: 'v'.repeat(64) } }, /^invalid node overlay: labels\.k: /],
  ['an overlay with an extra field is refused', StoreKey.overlay('host-1'), 'put', { ...EMPTY_OVERLAY, annotations: {} }, /^invalid node overlay: : Unrecognized key/],
  ['an overlay that is a string is refused', StoreKey.overlay('host-1'), 'put', 'disk=ssd', /^invalid node overlay: : Expected object/],

  // 8. Deletes of the other kinds carry nothing.
  ['a history delete with nothing is stored', StoreKey.history(agent), 'delete', undefined, undefined],
  ['a history delete carrying a cascade is refused', StoreKey.history(agent), 'delete', { cascade: 'orphan' }, /^a history delete carries nothing$/],
  ['a pod delete request delete with nothing is stored', StoreKey.podDelete(agent, 'host-1'), 'delete', undefined, undefined],
  ['a pod delete request delete carrying a request is refused', StoreKey.podDelete(agent, 'host-1'), 'delete', { revision: 'abc', since: 1 }, /^a pod request delete carries nothing$/],
  ['an overlay delete with nothing is stored', StoreKey.overlay('host-1'), 'delete', undefined, undefined],
  ['an overlay delete carrying an overlay is refused', StoreKey.overlay('host-1'), 'delete', EMPTY_OVERLAY, /^a node overlay delete carries nothing$/],
  ['an overlay delete carrying null is refused', StoreKey.overlay('host-1'), 'delete', null, /^a node overlay delete carries nothing$/],

  // 9. ConfigMaps.
  ['a valid ConfigMap under its own key is stored', StoreKey.configMap(fluentd), 'put', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'fluentd.v2', namespace: 'kube-system' }, data: { 'fluent.conf': '[INPUT]' } }, undefined],
  ['a ConfigMap under another name is refused', StoreKey.configMap(agent), 'put', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other' } }, /^ConfigMap default\/other stored under cm\/default\/agent$/],
  ['a ConfigMap with a bad key is refused', StoreKey.configMap(agent), 'put', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'agent' }, data: { 'a/b': 'x' } }, /^invalid ConfigMap: data\["a\/b"\]: Invalid value: "a\/b"/],
  ['a ConfigMap over the size bound is refused', StoreKey.configMap(agent), 'put', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'agent' }, data: { big: 'x'.repeat(200 * 1024) } }, /^invalid ConfigMap: Too long: a ConfigMap must have at most 196608 bytes as JSON/],
  ['a ConfigMap whose escapes make it too long is refused', StoreKey.configMap(agent), 'put', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'agent' }, data: { ctl: '\u0001'.repeat(40 * 1024) } }, /^invalid ConfigMap: Too long/],
  ['a ConfigMap delete with nothing is stored', StoreKey.configMap(agent), 'delete', undefined, undefined],
  ['a ConfigMap delete carrying a value is refused', StoreKey.configMap(agent), 'delete', { cascade: 'orphan' }, /^a ConfigMap delete carries nothing$/],
]

describe('checkStoreValue', () => {
  for (const [name, key, op, value, want] of cases) {
    it(name, () => {
      const got = checkStoreValue(key, op, value)
      if (want === undefined) assert.equal(got, undefined)
      else assert.match(got ?? '<admitted>', want)
    })
  }

  it('does not change the value it checks', () => {
    const value = rawDs()
    const before = structuredClone(value)
    checkStoreValue(StoreKey.daemonSet(agent), 'put', value)
    assert.deepEqual(value, before)
  })
})
