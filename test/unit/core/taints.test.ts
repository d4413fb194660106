import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseTaint, taintText, tolerates } from '../../../core/taints.js'
import type { Taint, Toleration } from '../../../core/types.js'

const taint: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }

const cases: [string, Toleration, boolean][] = [
  ['Equal with same key, value and effect', { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }, true],
  ['operator defaults to Equal', { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, true],
  ['Equal with another value', { key: 'dedicated', operator: 'Equal', value: 'cpu', effect: 'NoSchedule' }, false],
  ['Exists with same key', { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }, true],
  ['another key', { key: 'other', operator: 'Exists' }, false],
  ['empty effect matches every effect', { key: 'dedicated', operator: 'Exists' }, true],
  ['another effect', { key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, false],
  ['empty key with Exists matches every taint', { operator: 'Exists' }, true],
  ['empty key with Exists and an effect matches that effect only', { operator: 'Exists', effect: 'NoExecute' }, false],
]

describe('tolerations', () => {
  for (const [name, t, want] of cases) it(name, () => assert.equal(tolerates(t, taint), want))

  it('parses kubectl taint syntax', () => {
    assert.deepEqual(parseTaint('dedicated=gpu:NoSchedule').taint, taint)
    assert.deepEqual(parseTaint('node-role.kubernetes.io/master:NoSchedule').taint, { key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' })
    assert.equal(taintText(taint), 'dedicated=gpu:NoSchedule')
  })

  it('rejects bad taints with a clear message', () => {
    assert.match(parseTaint('dedicated=gpu').issues[0]?.message ?? '', /expected key\[=value\]:Effect/)
    assert.match(parseTaint('dedicated=gpu:Sometimes').issues[0]?.message ?? '', /Unsupported value: "Sometimes"/)
    assert.match(parseTaint('bad key:NoSchedule').issues[0]?.message ?? '', /Invalid value: "bad key"/)
  })
})
