// ConfigMaps: the object as applied and stored (`cm/NAMESPACE/NAME`), checked at every
// border: the CLI before signing, and every agent's store admission. Rules in
// parseConfigMap; the design in docs/configmaps.md. No I/O here.

import { z } from 'zod'
import type { FieldIssue } from './errors.js'
import type { DaemonSet } from './types.js'
import { BASE64, MAX_OBJECT_BYTES, configKeyProblem, metaSchema, objectMeta, stringMap, tooLong, type StoredMeta } from './object-meta.js'
import { joinPath } from './path.js'
import { zodIssues } from './zod-issues.js'

/** MAX_CONFIGMAP_BYTES bounds a ConfigMap as it travels (MAX_OBJECT_BYTES, core/object-meta.ts). */
export const MAX_CONFIGMAP_BYTES = MAX_OBJECT_BYTES

/** ConfigMap is a ConfigMap as stored: name and namespace set, data and binaryData string maps. */
export interface ConfigMap {
  apiVersion: 'v1'
  kind: 'ConfigMap'
  metadata: StoredMeta
  data?: Record<string, string>
  binaryData?: Record<string, string>
  immutable?: boolean
}

const configMapSchema = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('ConfigMap'),
    metadata: metaSchema,
    data: stringMap.optional(),
    binaryData: stringMap.optional(),
    immutable: z.boolean().optional(),
  })
  .strict()

/**
 * parseConfigMap checks an object (nulls already dropped) and returns the ConfigMap as
 * stored, or every error with its field path:
 *  1. apiVersion v1, kind ConfigMap; a field outside the ConfigMap's is a warning;
 *  2. metadata.name a DNS-1123 subdomain, metadata.namespace (default "default") a
 *     DNS-1123 label, valid labels; other metadata fields are dropped;
 *  3. keys of data and binaryData valid config keys, none in both;
 *  4. binaryData values base64;
 *  5. metadata, data and binaryData at most MAX_CONFIGMAP_BYTES as JSON (UTF-8, escapes included).
 */
export function parseConfigMap(input: unknown): { configMap?: ConfigMap; errors: FieldIssue[]; warnings: FieldIssue[] } {
  // Unknown fields are warnings (as kubectl warns); anything else wrong is an error.
  const strict = configMapSchema.safeParse(input)
  const { errors, warnings } = strict.success ? { errors: [], warnings: [] } : zodIssues(strict.error.issues)
  const res = configMapSchema.strip().safeParse(input)
  if (!res.success || errors.length > 0) return { errors, warnings }
  const { metadata: m, data, binaryData, immutable } = res.data
  const metadata = objectMeta(m, errors)
  for (const [field, map] of [['data', data], ['binaryData', binaryData]] as const) {
    for (const [k, v] of Object.entries(map ?? {})) {
      const why = configKeyProblem(k)
      if (why !== undefined) errors.push({ path: joinPath(field, k), message: `Invalid value: "${k}": ${why}` })
      if (field === 'binaryData' && data?.[k] !== undefined) errors.push({ path: joinPath(field, k), message: `Invalid value: "${k}": duplicate of key present in data` })
      if (field === 'binaryData' && !BASE64.test(v)) errors.push({ path: joinPath(field, k), message: 'Invalid value: must be base64' })
    }
  }
  const long = tooLong('ConfigMap', { metadata: m, data, binaryData })
  if (long !== undefined) errors.push(long)
  if (errors.length > 0) return { errors, warnings }
  const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata }
  if (data !== undefined) cm.data = data
  if (binaryData !== undefined) cm.binaryData = binaryData
  if (immutable !== undefined) cm.immutable = immutable
  return { configMap: cm, errors: [], warnings }
}

/** configMapEntries returns every key of a ConfigMap with its content: data as text, binaryData decoded. */
export function configMapEntries(cm: ConfigMap): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  for (const [k, v] of Object.entries(cm.data ?? {})) out.set(k, Buffer.from(v, 'utf8'))
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'))
  return out
}

/** configMapsUsedBy returns the names of the ConfigMaps a DaemonSet's pods use (volumes, projections, env, envFrom), in its namespace. */
export function configMapsUsedBy(ds: DaemonSet): Set<string> {
  const spec = ds.spec.template.spec
  const names = new Set<string>()
  for (const v of spec.volumes ?? []) {
    if (v.configMap !== undefined) names.add(v.configMap.name)
    for (const src of v.projected?.sources ?? []) if (src.configMap !== undefined) names.add(src.configMap.name)
  }
  for (const c of spec.containers) {
    for (const e of c.env ?? []) if (e.valueFrom?.configMapKeyRef !== undefined) names.add(e.valueFrom.configMapKeyRef.name)
    for (const f of c.envFrom ?? []) if (f.configMapRef !== undefined) names.add(f.configMapRef.name)
  }
  return names
}
