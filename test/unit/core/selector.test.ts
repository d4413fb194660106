import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compileSelector, selectorMatches } from '../../../core/selector.js'
import type { LabelSelector } from '../../../core/types.js'

type Case = [name: string, selector: LabelSelector | null | undefined, labels: Record<string, string>, want: boolean]

const cases: Case[] = [
  ['null selector matches nothing', null, { a: 'b' }, false],
  ['undefined selector matches nothing', undefined, {}, false],
  ['empty selector matches everything', {}, { a: 'b' }, true],
  ['empty selector matches no labels too', {}, {}, true],
  ['matchLabels equal', { matchLabels: { app: 'x' } }, { app: 'x', other: 'y' }, true],
  ['matchLabels different value', { matchLabels: { app: 'x' } }, { app: 'y' }, false],
  ['matchLabels missing key', { matchLabels: { app: 'x' } }, {}, false],
  ['In matches one of values', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] }, { tier: 'b' }, true],
  ['In does not match absent key', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] }, {}, false],
  ['NotIn matches absent key', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a'] }] }, {}, true],
  ['NotIn rejects listed value', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a'] }] }, { tier: 'a' }, false],
  ['Exists needs the key, any value', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, { gpu: '' }, true],
  ['Exists fails without the key', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, {}, false],
  ['DoesNotExist fails with the key', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, { gpu: 'x' }, false],
  ['DoesNotExist matches without the key', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, {}, true],
  ['matchLabels and matchExpressions are ANDed (both hold)', { matchLabels: { app: 'x' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] }, { app: 'x', tier: 'a' }, true],
  ['matchLabels and matchExpressions are ANDed (one fails)', { matchLabels: { app: 'x' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] }, { app: 'x', tier: 'b' }, false],
  ['an invalid selector matches nothing', { matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, { a: 'b' }, false],
]

describe('label selectors', () => {
  for (const [name, sel, labels, want] of cases) {
    it(name, () => assert.equal(selectorMatches(sel, labels), want))
  }

  it('renders as kubectl prints selectors', () => {
    const { selector } = compileSelector({ matchLabels: { app: 'fluentd' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['b', 'a'] }, { key: 'gpu', operator: 'DoesNotExist' }] }, 'spec.selector')
    assert.equal(selector.text, 'app=fluentd,!gpu,tier notin (a,b)')
  })

  it('compiled matchers are immutable', () => {
    const { selector } = compileSelector({ matchLabels: { a: 'b' } }, '')
    assert.ok(Object.isFrozen(selector))
  })

  it('reports every bad requirement with its path', () => {
    const { issues } = compileSelector({ matchLabels: { 'a b': 'c' }, matchExpressions: [{ key: 'k', operator: 'In' }, { key: 'k', operator: 'Exists', values: ['v'] }] }, 'spec.selector')
    assert.deepEqual(issues.map((i) => i.path), ['spec.selector.matchLabels', 'spec.selector.matchExpressions[0].values', 'spec.selector.matchExpressions[1].values'])
  })
})
