// Kubernetes resource quantities (`100m`, `0.15`, `200Mi`, `1Gi`, `1e3`). No I/O here.

const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/

const MULTIPLIERS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
}

/**
 * parseQuantity reads a quantity written as a string or a YAML number and returns its
 * value in base units (cores for cpu, bytes for memory), or undefined when the text is
 * not a quantity.
 */
export function parseQuantity(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) ? input : undefined
  if (typeof input !== 'string') return undefined
  const m = QUANTITY.exec(input.trim())
  if (m === null || input.trim() !== input) return undefined
  const base = Number(m[1])
  const suffix = m[2] ?? ''
  if (!Number.isFinite(base)) return undefined
  if (suffix.startsWith('e') || suffix.startsWith('E')) return base * 10 ** Number(suffix.slice(1))
  const mult = MULTIPLIERS[suffix]
  return mult === undefined ? undefined : base * mult
}
