import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generationOf, kubeStateFamilies, type MetricFamily } from '../../../core/kube-state.js'
import type { NodeRecord, PodStatus } from '../../../core/node-record.js'
import { revisionOf } from '../../../core/revision.js'
import { ds } from '../../helpers/fixtures.js'

const record = (name: string, labels: Record<string, string>, pods: Record<string, PodStatus> = {}): NodeRecord => ({
  name,
  peerId: `peer-${name}`,
  addresses: [],
  labels,
  taints: [],
  conditions: [],
  version: 'test',
  state: 'alive',
  startedAt: 0,
  incarnation: 0,
  pods,
})

const value = (fams: MetricFamily[], name: string, labels: Record<string, string>): number | undefined =>
  fams.find((f) => f.name === name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value

describe('kube-state-metrics series', () => {
  const ssd = ds({ nodeSelector: { disk: 'ssd' } }, { metadata: { name: 'fluentd', namespace: 'logging' } })
  const rev = revisionOf(ssd)
  const ok: PodStatus = { revision: rev, phase: 'Running', ready: true, restarts: 2, since: 0, available: true }
  const old: PodStatus = { revision: 'old', phase: 'Running', ready: true, restarts: 0, since: 0, available: true }
  const members = [
    record('a', { disk: 'ssd' }, { 'logging/fluentd': ok }),
    record('b', { disk: 'ssd' }, { 'logging/fluentd': old }),
    record('c', { disk: 'ssd' }),
    record('d', { disk: 'hdd' }, { 'logging/fluentd': ok }),
  ]
  const fams = kubeStateFamilies([{ ds: ssd }], members, 1_000)
  const l = { namespace: 'logging', daemonset: 'fluentd' }

  it('status gauges hold the numbers get ds prints, by namespace and daemonset', () => {
    assert.equal(value(fams, 'kube_daemonset_status_desired_number_scheduled', l), 3)
    assert.equal(value(fams, 'kube_daemonset_status_current_number_scheduled', l), 2)
    assert.equal(value(fams, 'kube_daemonset_status_number_ready', l), 2)
    assert.equal(value(fams, 'kube_daemonset_status_updated_number_scheduled', l), 1)
    assert.equal(value(fams, 'kube_daemonset_status_number_available', l), 2)
    assert.equal(value(fams, 'kube_daemonset_status_number_unavailable', l), 1)
    assert.equal(value(fams, 'kube_daemonset_status_number_misscheduled', l), 1)
    for (const f of fams.filter((x) => x.name.startsWith('kube_daemonset_'))) {
      assert.equal(f.type, 'gauge', f.name)
      assert.deepEqual(f.labelNames, ['namespace', 'daemonset'], f.name)
    }
  })

  it('restarts are a counter per pod, named as get pods prints it, with the template\'s container', () => {
    const f = fams.find((x) => x.name === 'kube_pod_container_status_restarts_total')
    assert.equal(f?.type, 'counter')
    assert.deepEqual(f?.samples.map((s) => [s.labels.pod, s.labels.container, s.value]), [['fluentd-a', 'main', 2], ['fluentd-b', 'main', 0], ['fluentd-d', 'main', 2]])
    assert.equal(value(fams, 'kube_pod_info', { pod: 'fluentd-d' }), 1)
    assert.equal(fams.find((x) => x.name === 'kube_pod_info')?.samples.find((s) => s.labels.pod === 'fluentd-d')?.labels.node, 'd')
  })

  it('a pod of several containers reports its total under an empty container label', () => {
    const two = ds({ containers: [{ name: 'x', image: 'busybox' }, { name: 'y', image: 'busybox' }] }, { metadata: { name: 'two' } })
    const f = kubeStateFamilies([{ ds: two }], [record('a', {}, { 'default/two': { ...ok, revision: revisionOf(two), restarts: 5 } })], 0)
    assert.equal(value(f, 'kube_pod_container_status_restarts_total', { pod: 'two-a', container: '' }), 5)
  })

  it('generation: metadata.generation, else the newest history revision, else 1; observed follows it', () => {
    assert.equal(generationOf({ ds: ssd }), 1)
    assert.equal(generationOf({ ds: ssd, history: { revisions: [{ revision: 3, hash: 'h', template: {}, at: 0 }, { revision: 4, hash: 'i', template: {}, at: 0 }] } }), 4)
    const g7 = ds({}, { metadata: { name: 'g', generation: 7 } })
    assert.equal(generationOf({ ds: g7 }), 7)
    const f = kubeStateFamilies([{ ds: g7 }], [], 0)
    assert.equal(value(f, 'kube_daemonset_metadata_generation', { daemonset: 'g' }), 7)
    assert.equal(value(f, 'kube_daemonset_status_observed_generation', { daemonset: 'g' }), 7)
  })

  it('no DaemonSets: every family is present with no samples', () => {
    const empty = kubeStateFamilies([], [], 0)
    assert.equal(empty.length, 11)
    assert.ok(empty.every((f) => f.samples.length === 0))
  })
})
