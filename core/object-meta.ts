// What ConfigMaps and Secrets share: their metadata (name, namespace, labels, annotations,
// creationTimestamp), their keys' rules, and the bound on an object as it travels. Checked
// at every border by parseConfigMap and the Secret parsers. No I/O here.

import { z } from 'zod'
import type { FieldIssue } from './errors.js'
import { dns1123Label, dns1123Subdomain } from './names.js'
import { validateLabels } from './selector.js'

/**
 * MAX_OBJECT_BYTES bounds a ConfigMap or a Secret (as stored: a Secret sealed) as it travels:
 * JSON-encoded, escapes included. Kubernetes allows 1 MiB; here an object travels in one
 * gossip message of at most 256 KiB, envelope included.
 */
export const MAX_OBJECT_BYTES = 192 * 1024

/** StoredMeta is the metadata a ConfigMap or Secret keeps: name and namespace set. */
export interface StoredMeta {
  name: string
  namespace: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  creationTimestamp?: string
}

export const stringMap = z.record(z.string(), z.string())

/** metaSchema is the metadata as written; other fields are dropped. */
export const metaSchema = z
  .object({ name: z.string(), namespace: z.string().optional(), labels: stringMap.optional(), annotations: stringMap.optional(), creationTimestamp: z.string().optional() })
  .passthrough()

const KEY = /^[-._a-zA-Z0-9]+$/
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** configKeyProblem says why `key` cannot be a ConfigMap or Secret key, as Kubernetes' IsConfigMapKey. */
export function configKeyProblem(key: string): string | undefined {
  if (key === '' || key.length > 253) return 'must be 1 to 253 characters'
  if (key === '.' || key === '..') return `must not be '${key}'`
  if (!KEY.test(key)) return "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
  return undefined
}

/**
 * objectMeta checks metadata as parsed by metaSchema and returns what is kept: name a
 * DNS-1123 subdomain, namespace (default "default") a DNS-1123 label, valid labels.
 * Problems are pushed onto `errors`.
 */
export function objectMeta(m: z.infer<typeof metaSchema>, errors: FieldIssue[]): StoredMeta {
  if (m.name === '') errors.push({ path: 'metadata.name', message: 'required' })
  else for (const p of dns1123Subdomain(m.name)) errors.push({ path: 'metadata.name', message: `Invalid value: "${m.name}": ${p}` })
  const namespace = m.namespace ?? 'default'
  for (const p of dns1123Label(namespace)) errors.push({ path: 'metadata.namespace', message: `Invalid value: "${namespace}": ${p}` })
  errors.push(...validateLabels(m.labels, 'metadata.labels'))
  const metadata: StoredMeta = { name: m.name, namespace }
  if (m.labels !== undefined) metadata.labels = m.labels
  if (m.annotations !== undefined) metadata.annotations = m.annotations
  if (m.creationTimestamp !== undefined) metadata.creationTimestamp = m.creationTimestamp
  return metadata
}

/** tooLong returns the error of an object over MAX_OBJECT_BYTES as JSON, if it is. */
export function tooLong(kind: string, travelling: unknown): FieldIssue | undefined {
  // Measured as it travels: JSON escapes (a newline is two bytes, a control character six) count.
  const bytes = Buffer.byteLength(JSON.stringify(travelling))
  return bytes > MAX_OBJECT_BYTES ? { path: '', message: `Too long: a ${kind} must have at most ${MAX_OBJECT_BYTES} bytes as JSON (${bytes})` } : undefined
}
