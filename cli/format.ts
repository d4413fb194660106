// Output helpers shared by the verbs: kubectl-style ages, -o json|yaml|name.

import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'
import { UsageError } from './errors.js'

const load = createRequire(import.meta.url)

/**
 * yamlText renders a value as YAML. The yaml package is loaded on the first call, not with
 * the verb: it was a fifth of `get nodes`' start-up (53 of 247 ms, --cpu-prof), for the
 * outputs that never print YAML.
 */
export function yamlText(value: unknown, options?: Yaml.ToStringOptions): string {
  return (load('yaml') as typeof Yaml).stringify(value, options)
}

/** age renders a duration since `iso` as kubectl does (45s, 12m, 5h, 3d). */
export function age(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return '<unknown>'
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000))
  if (!Number.isFinite(s)) return '<unknown>'
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.floor(s / 60)}m`
  if (s < 172800) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

export const OUTPUTS = ['table', 'wide', 'json', 'yaml', 'name'] as const
export type Output = (typeof OUTPUTS)[number] | `go-template=${string}`

/** checkOutput validates -o. */
export function checkOutput(o: string | undefined): Output {
  const v = o ?? 'table'
  if (v.startsWith('go-template=')) return v as Output
  if (!(OUTPUTS as readonly string[]).includes(v)) throw new UsageError(`-o ${v}: unsupported output format; use one of wide, json, yaml, name, go-template=TEMPLATE`)
  return v as Output
}

/** serialize renders a value for -o json or -o yaml. */
export function serialize(value: unknown, o: 'json' | 'yaml'): string {
  return o === 'json' ? `${JSON.stringify(value, null, 4)}\n` : yamlText(value)
}
