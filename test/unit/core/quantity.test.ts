import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseQuantity } from '../../../core/quantity.js'

const cases: [unknown, number | undefined][] = [
  ['100m', 0.1],
  ['0.15', 0.15],
  [0.15, 0.15],
  ['1', 1],
  [2, 2],
  ['200Mi', 200 * 2 ** 20],
  ['1Gi', 2 ** 30],
  ['1Ki', 1024],
  ['1e3', 1000],
  ['1E3', 1000],
  ['1.5k', 1500],
  ['2M', 2e6],
  ['1G', 1e9],
  ['500u', 0.0005],
  ['.5', 0.5],
  ['200MB', undefined],
  ['abc', undefined],
  ['', undefined],
  [' 1', undefined],
  ['1 Gi', undefined],
  [null, undefined],
  [{}, undefined],
]

describe('quantities', () => {
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} is ${want === undefined ? 'rejected' : want}`, () => {
      const got = parseQuantity(input)
      if (want === undefined) assert.equal(got, undefined)
      else assert.ok(got !== undefined && Math.abs(got - want) < 1e-12 * Math.max(1, want), `got ${got}`)
    })
  }
})
