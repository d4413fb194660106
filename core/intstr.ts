// Int-or-percent values (`maxUnavailable: 1`, `maxUnavailable: "25%"`). No I/O here.

import type { IntOrString } from './types.js'

export type IntOrPercent = { kind: 'int'; value: number } | { kind: 'percent'; value: number }

/** parseIntOrPercent reads an int or an `N%` string; returns undefined when it is neither. */
export function parseIntOrPercent(v: IntOrString | undefined): IntOrPercent | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? { kind: 'int', value: v } : undefined
  if (typeof v !== 'string') return undefined
  const m = /^(-?[0-9]+)%$/.exec(v)
  if (m !== null) return { kind: 'percent', value: Number(m[1]) }
  return /^-?[0-9]+$/.test(v) ? { kind: 'int', value: Number(v) } : undefined
}

/**
 * scaledValue resolves an int-or-percent against `total`, as Kubernetes'
 * GetScaledValueFromIntOrPercent does: percentages round up when `roundUp`, else down.
 */
export function scaledValue(v: IntOrPercent, total: number, roundUp: boolean): number {
  if (v.kind === 'int') return v.value
  const exact = (v.value * total) / 100
  return roundUp ? Math.ceil(exact) : Math.floor(exact)
}
