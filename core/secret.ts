// Secrets: the object as applied (a manifest with `data` and `stringData`, in plaintext, only
// ever in the CLI's memory) and as stored (`secret/NAMESPACE/NAME`: metadata, type, the keys
// with their sizes, and the data sealed with the fleet secret key, core/secret-box.ts).
// Checked at every border: the CLI before sealing (parseSecretManifest), every agent's store
// admission (parseStoredSecret), and the opened data again on the host that opens it
// (openSecret). The design in docs/secrets.md. No I/O here.

import { z } from 'zod'
import type { FieldIssue } from './errors.js'
import { StoreKey, dsRef } from './keyspace.js'
import { BASE64, configKeyProblem, metaSchema, objectMeta, stringMap, tooLong, type StoredMeta } from './object-meta.js'
import { joinPath } from './path.js'
import { SecretKeyError, open, seal, type SecretKey, type Sealed } from './secret-box.js'
import type { DaemonSet } from './types.js'
import { zodIssues } from './zod-issues.js'

/** SecretData is a Secret's data, opened: each key's bytes. Never logged, never stored. */
export type SecretData = Map<string, Buffer>

/** PlainSecret is a Secret as applied, data in plaintext: it exists in the CLI only, until sealed. */
export interface PlainSecret {
  metadata: StoredMeta
  type: string
  immutable?: boolean
  data: SecretData
}

/** Secret is a Secret as stored and replicated: only the data is sealed; keys and sizes are readable (as `describe` shows them). */
export interface Secret {
  apiVersion: 'v1'
  kind: 'Secret'
  metadata: StoredMeta
  type: string
  immutable?: boolean
  /** Each key's size in bytes. */
  sizes: Record<string, number>
  sealed: Sealed
}

/** DOCKER_CONFIG_JSON is the type of a Secret holding registry credentials, key `.dockerconfigjson`. */
export const DOCKER_CONFIG_JSON = 'kubernetes.io/dockerconfigjson'

/** REQUIRED_KEYS: the keys Kubernetes requires for its built-in Secret types. */
const REQUIRED_KEYS: Record<string, string[]> = {
  [DOCKER_CONFIG_JSON]: ['.dockerconfigjson'],
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
}
const JSON_KEYS: Record<string, string> = { [DOCKER_CONFIG_JSON]: '.dockerconfigjson', 'kubernetes.io/dockercfg': '.dockercfg' }
const TYPE = /^[-._a-zA-Z0-9/]{1,253}$/

const manifestSchema = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('Secret'),
    metadata: metaSchema,
    type: z.string().optional(),
    data: stringMap.optional(),
    stringData: stringMap.optional(),
    immutable: z.boolean().optional(),
  })
  .strict()

/**
 * parseSecretManifest checks a Secret as written (nulls already dropped) and returns it with
 * its data decoded, or every error with its field path:
 *  1. apiVersion v1, kind Secret; a field outside the Secret's is a warning;
 *  2. metadata as a ConfigMap's (core/object-meta.ts);
 *  3. keys of `data` and `stringData` valid config keys; `data` values base64; a key of
 *     `stringData` replaces the same key of `data`, as the API server merges them;
 *  4. `type` (default Opaque) a name of at most 253 characters; the built-in types have
 *     their required keys (`kubernetes.io/dockerconfigjson`: `.dockerconfigjson`, which
 *     must be JSON with an `auths` object; tls: `tls.crt` and `tls.key`; ...).
 * The sealed size is checked when it is sealed (sealSecret: at most MAX_OBJECT_BYTES).
 * Errors never quote a value.
 */
export function parseSecretManifest(input: unknown): { secret?: PlainSecret; errors: FieldIssue[]; warnings: FieldIssue[] } {
  const strict = manifestSchema.safeParse(input)
  const { errors, warnings } = strict.success ? { errors: [], warnings: [] } : zodIssues(strict.error.issues)
  const res = manifestSchema.strip().safeParse(input)
  if (!res.success || errors.length > 0) return { errors, warnings }
  const { metadata: m, data: raw, stringData, immutable } = res.data
  const metadata = objectMeta(m, errors)
  const type = res.data.type ?? 'Opaque'
  if (!TYPE.test(type)) errors.push({ path: 'type', message: `Invalid value: "${type.slice(0, 64)}": a name of at most 253 characters of [-._a-zA-Z0-9/]` })
  const data: SecretData = new Map()
  for (const [field, map] of [['data', raw], ['stringData', stringData]] as const) {
    for (const [k, v] of Object.entries(map ?? {})) {
      const why = configKeyProblem(k)
      if (why !== undefined) errors.push({ path: joinPath(field, k), message: `Invalid value: "${k}": ${why}` })
      if (field === 'data' && !BASE64.test(v)) errors.push({ path: joinPath(field, k), message: 'Invalid value: must be base64' })
      else data.set(k, Buffer.from(v, field === 'data' ? 'base64' : 'utf8'))
    }
  }
  for (const k of REQUIRED_KEYS[type] ?? []) if (!data.has(k)) errors.push({ path: joinPath('data', k), message: `Required value: a ${type} Secret has key ${k}` })
  const jsonKey = JSON_KEYS[type]
  const json = jsonKey === undefined ? undefined : data.get(jsonKey)
  if (jsonKey !== undefined && json !== undefined) {
    const why = dockerConfigProblem(json, type === DOCKER_CONFIG_JSON)
    if (why !== undefined) errors.push({ path: joinPath('data', jsonKey), message: `Invalid value: ${why}` })
  }
  if (errors.length > 0) return { errors, warnings }
  return { secret: { metadata, type, ...(immutable === undefined ? {} : { immutable }), data }, errors: [], warnings }
}

function dockerConfigProblem(content: Buffer, wrapped: boolean): string | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(content.toString('utf8'))
  } catch {
    return 'must be JSON'
  }
  const auths = wrapped ? (parsed as { auths?: unknown } | null)?.auths : parsed
  return typeof auths === 'object' && auths !== null && !Array.isArray(auths) ? undefined : wrapped ? 'must be JSON with an "auths" object' : 'must be a JSON object'
}

/** secretContext is what a Secret's sealed data is bound to: its store key, so data moved to another name does not open. */
export function secretContext(namespace: string, name: string): string {
  return StoreKey.secret(dsRef(namespace, name))
}

/** sealSecret seals a Secret's data under `key`; throws (ValidationError-like issues) when the result would be over the bound. */
export function sealSecret(plain: PlainSecret, key: SecretKey): { secret?: Secret; errors: FieldIssue[] } {
  const entries = [...plain.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const body = Buffer.from(JSON.stringify(Object.fromEntries(entries.map(([k, v]) => [k, v.toString('base64')]))), 'utf8')
  const secret: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: plain.metadata,
    type: plain.type,
    ...(plain.immutable === undefined ? {} : { immutable: plain.immutable }),
    sizes: Object.fromEntries(entries.map(([k, v]) => [k, v.length])),
    sealed: seal(body, key, secretContext(plain.metadata.namespace, plain.metadata.name)),
  }
  const long = tooLong('Secret (sealed)', secret)
  return long === undefined ? { secret, errors: [] } : { errors: [long] }
}

const storedSchema = z
  .object({
    apiVersion: z.literal('v1'),
    kind: z.literal('Secret'),
    metadata: metaSchema,
    type: z.string(),
    immutable: z.boolean().optional(),
    sizes: z.record(z.string(), z.number().int().min(0)),
    sealed: z.object({ keyId: z.string().regex(/^[0-9a-f]{16}$/), box: z.string().regex(BASE64) }).strict(),
  })
  .strict()

/**
 * parseStoredSecret checks a Secret as stored (the admission rule of every agent):
 *  1. the stored shape exactly (no plaintext field such as `data` or `stringData` is admitted);
 *  2. metadata as a ConfigMap's; `type` as parseSecretManifest's rule 4 (name only);
 *  3. the keys of `sizes` valid config keys;
 *  4. at most MAX_OBJECT_BYTES as JSON.
 */
export function parseStoredSecret(value: unknown): { secret?: Secret; errors: FieldIssue[] } {
  const res = storedSchema.safeParse(value)
  if (!res.success) return { errors: zodIssues(res.error.issues).errors.concat(zodIssues(res.error.issues).warnings) }
  const errors: FieldIssue[] = []
  const metadata = objectMeta(res.data.metadata, errors)
  if (!TYPE.test(res.data.type)) errors.push({ path: 'type', message: 'Invalid value: not a Secret type' })
  for (const k of Object.keys(res.data.sizes)) {
    const why = configKeyProblem(k)
    if (why !== undefined) errors.push({ path: joinPath('sizes', k), message: `Invalid value: "${k}": ${why}` })
  }
  const long = tooLong('Secret (sealed)', value)
  if (long !== undefined) errors.push(long)
  if (errors.length > 0) return { errors }
  return { secret: { ...res.data, metadata }, errors: [] }
}

/**
 * openSecret opens a stored Secret's data with `key`: throws SecretKeyError when it was
 * sealed with another key, altered, or sealed for another name, or when what it opens to
 * is not the map of keys its `sizes` list.
 */
export function openSecret(secret: Secret, key: SecretKey): SecretData {
  const body = open(secret.sealed, key, secretContext(secret.metadata.namespace, secret.metadata.name))
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    throw new SecretKeyError('sealed data is not a Secret')
  }
  const map = stringMap.safeParse(parsed)
  if (!map.success) throw new SecretKeyError('sealed data is not a Secret')
  const out: SecretData = new Map()
  for (const [k, v] of Object.entries(map.data)) {
    const bytes = Buffer.from(v, 'base64')
    if (secret.sizes[k] !== bytes.length) throw new SecretKeyError('sealed data does not match the Secret\'s keys')
    out.set(k, bytes)
  }
  if (out.size !== Object.keys(secret.sizes).length) throw new SecretKeyError('sealed data does not match the Secret\'s keys')
  return out
}

/** sameSecret says whether a stored Secret, opened with `data`, holds what `plain` would store (metadata, type, immutable, data). */
export function sameSecret(stored: Secret, data: SecretData, plain: PlainSecret): boolean {
  const { creationTimestamp: _a, ...m1 } = stored.metadata
  const { creationTimestamp: _b, ...m2 } = plain.metadata
  if (JSON.stringify(sortKeys(m1)) !== JSON.stringify(sortKeys(m2)) || stored.type !== plain.type || stored.immutable !== plain.immutable) return false
  if (data.size !== plain.data.size) return false
  for (const [k, v] of plain.data) if (!(data.get(k)?.equals(v) ?? false)) return false
  return true
}

function sortKeys(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)]))
}

/** secretsUsedBy returns the names of the Secrets a DaemonSet's pods use (volumes, projections, env, envFrom, imagePullSecrets), in its namespace. */
export function secretsUsedBy(ds: DaemonSet): Set<string> {
  const spec = ds.spec.template.spec
  const names = new Set<string>()
  for (const v of spec.volumes ?? []) {
    if (v.secret !== undefined) names.add(v.secret.secretName)
    for (const src of v.projected?.sources ?? []) if (src.secret !== undefined) names.add(src.secret.name)
  }
  for (const c of spec.containers) {
    for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef !== undefined) names.add(e.valueFrom.secretKeyRef.name)
    for (const f of c.envFrom ?? []) if (f.secretRef !== undefined) names.add(f.secretRef.name)
  }
  for (const s of spec.imagePullSecrets ?? []) names.add(s.name)
  return names
}
