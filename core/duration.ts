// Durations in config files and flags: a number of milliseconds or text like `500ms`, `1s`, `5m`, `1h`.

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** parseDuration returns milliseconds, or undefined when the input is not a duration. */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? input : undefined
  if (typeof input !== 'string') return undefined
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(input.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1))
}
