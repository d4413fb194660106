import assert from 'node:assert/strict'
import { test } from 'node:test'
import { kubeStateFamilies } from '../../../core/kube-state.js'
import { byCodeUnit } from '../../../core/order.js'
import { ds } from '../../helpers/fixtures.js'

test('byCodeUnit orders by code unit, as < does: upper case before lower, punctuation and digits before letters', () => {
  assert.deepEqual(['b', 'a', 'B', 'a1', 'a.1', 'a-2', ''].sort(byCodeUnit), ['', 'B', 'a', 'a-2', 'a.1', 'a1', 'b'])
  assert.equal(byCodeUnit('node-1', 'node-1'), 0)
})

test('kube-state series list DaemonSets in code-unit order of namespace/name', () => {
  const named = (namespace: string, name: string): { ds: ReturnType<typeof ds> } => ({ ds: ds({}, { metadata: { name, namespace } }) })
  const fams = kubeStateFamilies([named('b', 'x'), named('a-b', 'x'), named('a', 'y'), named('a', 'x')], [], 0)
  const samples = fams.find((f) => f.name === 'kube_daemonset_metadata_generation')?.samples ?? []
  assert.deepEqual(samples.map((s) => `${s.labels.namespace}/${s.labels.daemonset}`), ['a-b/x', 'a/x', 'a/y', 'b/x'])
})
