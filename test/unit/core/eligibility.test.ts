import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { shouldRun } from '../../../core/eligibility.js'
import { loadDaemonSets } from '../../../core/manifest.js'
import type { NodeInfo, Taint } from '../../../core/types.js'
import { ds, node, seedFiles } from '../../helpers/fixtures.js'

const affinity = (...terms: unknown[]): Record<string, unknown> => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } })
const t = (key: string, effect: Taint['effect'], value?: string): Taint => (value === undefined ? { key, effect } : { key, value, effect })

type Case = [name: string, pod: Record<string, unknown>, n: NodeInfo, run: boolean, keep: boolean, reasons: RegExp[]]

const cases: Case[] = [
  ['no constraints: every node runs it', {}, node('n1'), true, true, []],
  ['nodeSelector matches', { nodeSelector: { disktype: 'ssd' } }, node('n1', { disktype: 'ssd' }), true, true, []],
  ['nodeSelector label missing', { nodeSelector: { disktype: 'ssd' } }, node('n1'), false, false, [/nodeSelector: node lacks label disktype=ssd/]],
  ['nodeSelector label has another value', { nodeSelector: { disktype: 'ssd' } }, node('n1', { disktype: 'hdd' }), false, false, [/node has label disktype=hdd, want disktype=ssd/]],
  ['nodeSelector reports every missing label', { nodeSelector: { a: '1', b: '2' } }, node('n1'), false, false, [/lacks label a=1/, /lacks label b=2/]],
  ['nodeName pins the pod to one node', { nodeName: 'n2' }, node('n1'), false, false, [/nodeName is n2/]],
  ['affinity In matches', affinity({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }), node('n1', { zone: 'b' }), true, true, []],
  ['affinity In fails with reason', affinity({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }), node('n1', { zone: 'c' }), false, false, [/nodeAffinity: label zone=c, want one of \[a, b\]/]],
  ['affinity terms are ORed', affinity({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }), node('n1', { gpu: 'x' }), true, true, []],
  ['affinity expressions in a term are ANDed', affinity({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }, { key: 'gpu', operator: 'Exists' }] }), node('n1', { zone: 'a' }), false, false, [/label gpu is not set, want it present/]],
  ['affinity with no term matching lists each term', affinity({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }), node('n1'), false, false, [/term 0: .*zone.*\| term 1: .*gpu/]],
  ['NotIn matches an absent label', affinity({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }), node('n1'), true, true, []],
  ['DoesNotExist fails when present', affinity({ matchExpressions: [{ key: 'spot', operator: 'DoesNotExist' }] }), node('n1', { spot: 'true' }), false, false, [/spot=true, want it absent/]],
  ['Gt compares integers', affinity({ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }), node('n1', { cores: '8' }), true, true, []],
  ['Gt fails when not greater', affinity({ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }), node('n1', { cores: '4' }), false, false, [/cores=4, want > 4/]],
  ['Lt fails on a non-integer label', affinity({ matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }), node('n1', { cores: 'many' }), false, false, [/not an integer/]],
  ['Lt fails on an absent label', affinity({ matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }), node('n1'), false, false, [/cores is not set/]],
  ['matchFields on metadata.name', affinity({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }), node('n1'), true, true, []],
  ['matchFields on metadata.name, other node', affinity({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }] }), node('n2'), false, false, [/field metadata.name=n2/]],
  ['node matches field selector, but not labels', affinity({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n1'] }], matchExpressions: [{ key: 'a', operator: 'Exists' }] }), node('n1'), false, false, [/label a is not set/]],
  ['untolerated NoSchedule taint blocks placement but keeps a running copy', {}, node('n1', {}, [t('dedicated', 'NoSchedule', 'gpu')]), false, true, [/taint dedicated=gpu:NoSchedule is not tolerated/]],
  ['untolerated NoExecute taint evicts', {}, node('n1', {}, [t('maintenance', 'NoExecute')]), false, false, [/taint maintenance:NoExecute is not tolerated/]],
  ['PreferNoSchedule is ignored for DaemonSets', {}, node('n1', {}, [t('soft', 'PreferNoSchedule')]), true, true, []],
  ['a matching toleration allows placement', { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }] }, node('n1', {}, [t('dedicated', 'NoSchedule', 'gpu')]), true, true, []],
  ['a NoExecute toleration keeps the copy', { tolerations: [{ key: 'maintenance', operator: 'Exists', effect: 'NoExecute' }] }, node('n1', {}, [t('maintenance', 'NoExecute')]), true, true, []],
  ['unschedulable is ignored', {}, { name: 'n1', labels: {}, taints: [], unschedulable: true }, true, true, []],
  ['default toleration: not-ready NoExecute', {}, node('n1', {}, [t('node.kubernetes.io/not-ready', 'NoExecute')]), true, true, []],
  ['default toleration: unreachable NoExecute', {}, node('n1', {}, [t('node.kubernetes.io/unreachable', 'NoExecute')]), true, true, []],
  ['default toleration: disk-pressure', {}, node('n1', {}, [t('node.kubernetes.io/disk-pressure', 'NoSchedule')]), true, true, []],
  ['default toleration: memory-pressure', {}, node('n1', {}, [t('node.kubernetes.io/memory-pressure', 'NoSchedule')]), true, true, []],
  ['default toleration: pid-pressure', {}, node('n1', {}, [t('node.kubernetes.io/pid-pressure', 'NoSchedule')]), true, true, []],
  ['default toleration: unschedulable', {}, node('n1', {}, [t('node.kubernetes.io/unschedulable', 'NoSchedule')]), true, true, []],
  ['network-unavailable is tolerated only with hostNetwork', { hostNetwork: true }, node('n1', {}, [t('node.kubernetes.io/network-unavailable', 'NoSchedule')]), true, true, []],
  ['network-unavailable blocks pods without hostNetwork', {}, node('n1', {}, [t('node.kubernetes.io/network-unavailable', 'NoSchedule')]), false, true, [/network-unavailable:NoSchedule/]],
  ['legacy alpha notReady NoExecute is tolerated', {}, node('n1', {}, [t('node.alpha.kubernetes.io/notReady', 'NoExecute')]), true, true, []],
  ['legacy alpha unreachable NoExecute is tolerated', {}, node('n1', {}, [t('node.alpha.kubernetes.io/unreachable', 'NoExecute')]), true, true, []],
  ['legacy alpha memoryPressure NoExecute is tolerated', {}, node('n1', {}, [t('node.alpha.kubernetes.io/memoryPressure', 'NoExecute')]), true, true, []],
  ['legacy alpha diskPressure NoExecute is tolerated', {}, node('n1', {}, [t('node.alpha.kubernetes.io/diskPressure', 'NoExecute')]), true, true, []],
  ['legacy outOfDisk is not tolerated for non-critical pods', {}, node('n1', {}, [t('node.alpha.kubernetes.io/outOfDisk', 'NoExecute')]), false, false, [/outOfDisk/]],
  ['placement failure and taint are both reported', { nodeSelector: { a: 'b' } }, node('n1', {}, [t('x', 'NoSchedule')]), false, false, [/lacks label a=b/, /taint x:NoSchedule/]],
]

describe('node eligibility', () => {
  for (const [name, pod, n, run, keep, reasons] of cases) {
    it(name, () => {
      const v = shouldRun(n, ds(pod))
      assert.equal(v.shouldRun, run, `shouldRun; reasons ${JSON.stringify(v.reasons)}`)
      assert.equal(v.shouldContinueRunning, keep, 'shouldContinueRunning')
      assert.equal(v.reasons.length, reasons.length, JSON.stringify(v.reasons))
      reasons.forEach((re, i) => assert.match(v.reasons[i] ?? '', re))
    })
  }

  it('a critical pod tolerates legacy outOfDisk', () => {
    const d = ds({}, { templateMeta: { annotations: { 'scheduler.alpha.kubernetes.io/critical-pod': '' } } })
    assert.equal(shouldRun(node('n1', {}, [t('node.alpha.kubernetes.io/outOfDisk', 'NoExecute')]), d).shouldRun, true)
  })

  it('seed 001 tolerates the master taint; seed 003 does not', () => {
    const seeds = Object.fromEntries(seedFiles().map((s) => [s.name.slice(0, 7), loadDaemonSets(s.text, s.name)[0]]))
    const master = node('master', { 'node-role.kubernetes.io/master': '' }, [t('node-role.kubernetes.io/master', 'NoSchedule')])
    assert.equal(seeds.seed001 && shouldRun(master, seeds.seed001).shouldRun, true)
    const v = seeds.seed003 && shouldRun(master, seeds.seed003)
    assert.equal(v?.shouldRun, false)
    assert.deepEqual(v?.reasons, ['taint node-role.kubernetes.io/master:NoSchedule is not tolerated'])
  })
})

describe('tolerationSeconds', () => {
  const d = ds({ tolerations: [{ key: 'drain', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }] })
  const n = node('n1', {}, [t('drain', 'NoExecute')])

  it('a NoExecute taint tolerated for a while keeps the copy until then, and says when to look again', () => {
    assert.deepEqual(shouldRun(n, d, () => 10_000), { shouldRun: true, shouldContinueRunning: true, reasons: [], evictInMs: 20_000 })
  })

  it('past tolerationSeconds the copy is evicted, with why', () => {
    const v = shouldRun(n, d, () => 30_000)
    assert.equal(v.shouldRun, false)
    assert.equal(v.shouldContinueRunning, false)
    assert.deepEqual(v.reasons, ['taint drain:NoExecute was tolerated for its tolerationSeconds only'])
  })

  it('without taint ages (the CLI) or with a toleration without tolerationSeconds, it is tolerated', () => {
    assert.equal(shouldRun(n, d).shouldContinueRunning, true)
    const forever = ds({ tolerations: [{ key: 'drain', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }, { key: 'drain', operator: 'Exists' }] })
    assert.deepEqual(shouldRun(n, forever, () => 60_000), { shouldRun: true, shouldContinueRunning: true, reasons: [] })
  })
})
