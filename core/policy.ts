// Workload policy: what an agent lets the DaemonSets signed by each operator key do to its
// host. Kubernetes answers this with Pod Security admission and per-namespace RBAC; we have
// no control plane, so every agent judges every DaemonSet it would run against its own
// policy (config key `policy`), before anything is pulled or started. Pure: plain data in,
// the rules broken out; no I/O, no logging.

import { z } from 'zod'
import { isKeyId } from './keys.js'
import type { DaemonSet } from './types.js'

/** PolicyRules is one set of rules; a field left out of a key's entry takes the policy's. */
export interface PolicyRules {
  /** Containers with `securityContext.privileged: true`. Default false. */
  allowPrivileged: boolean
  /** Absolute path prefixes that hostPath volumes may use (whole path segments). Default none. */
  allowedHostPaths: string[]
  /** `hostNetwork`, `hostPID`, `hostIPC`. Default false. */
  allowHostNamespaces: boolean
  /** Capabilities that `securityContext.capabilities.add` may name (`NET_ADMIN`, `CAP_` optional; `ALL` only when listed). Default none. */
  allowedCapabilities: string[]
  /** Namespaces the key may run DaemonSets in; absent: any. */
  allowedNamespaces?: string[]
}

/** WorkloadPolicy is the whole policy of one agent: rules for every key, and per key id overrides. */
export interface WorkloadPolicy {
  rules: PolicyRules
  keys: Record<string, Partial<PolicyRules>>
}

/** Bounds: the policy comes from a config file, but is still checked at the border. */
const MAX_LIST = 256
const MAX_KEYS = 256

const pathPrefix = z
  .string()
  .max(4096)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine((p) => !p.split('/').some((s) => s === '..' || s === '.'), 'must not contain . or .. segments')
const capability = z.string().regex(/^[A-Za-z_]{1,64}$/, 'a capability name such as NET_ADMIN')
const namespace = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a namespace name')

const rulesSchema = z
  .object({
    allowPrivileged: z.boolean(),
    allowedHostPaths: z.array(pathPrefix).max(MAX_LIST),
    allowHostNamespaces: z.boolean(),
    allowedCapabilities: z.array(capability).max(MAX_LIST),
    allowedNamespaces: z.array(namespace).max(MAX_LIST),
  })
  .partial()
  .strict()

/** policySchema is the config file's `policy` key: the rules, and `keys` (key id -> rules) for per-key overrides. */
export const policySchema = rulesSchema
  .extend({
    keys: z
      .record(z.string(), rulesSchema)
      .refine((k) => Object.keys(k).length <= MAX_KEYS, `at most ${MAX_KEYS} keys`)
      .refine((k) => Object.keys(k).every(isKeyId), 'each key must be an operator key id (43 base64url characters)')
      .optional(),
  })
  .strict()

export type PolicyInput = z.infer<typeof policySchema>

/** STRICT_RULES are the rules of a policy that says nothing about a field: nothing that reaches into the host. */
export const STRICT_RULES: PolicyRules = { allowPrivileged: false, allowedHostPaths: [], allowHostNamespaces: false, allowedCapabilities: [] }

/** OPEN_POLICY is what an agent with no `policy` key applies: every trusted key may do anything (as before policies existed). */
export const OPEN_POLICY: WorkloadPolicy = { rules: { allowPrivileged: true, allowedHostPaths: ['/'], allowHostNamespaces: true, allowedCapabilities: ['ALL'] }, keys: {} }

/** policyOf builds a policy from its validated input: fields left out are strict. */
export function policyOf(input: PolicyInput): WorkloadPolicy {
  const { keys, ...rules } = input
  return { rules: { ...STRICT_RULES, ...rules }, keys: keys ?? {} }
}

/** rulesFor returns the rules that apply to DaemonSets signed by `author` (a key id). */
export function rulesFor(policy: WorkloadPolicy, author: string): PolicyRules {
  return { ...policy.rules, ...(policy.keys[author] ?? {}) }
}

/** normalCapability is a capability as Docker names it in CapAdd, without the CAP_ prefix, upper case. */
function normalCapability(c: string): string {
  return c.toUpperCase().replace(/^CAP_/, '')
}

/** underPrefix says whether `path` is `prefix` or below it, by whole segments (`/var/log` covers `/var/log/x`, not `/var/logs`). */
export function underPrefix(path: string, prefix: string): boolean {
  const p = prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix
  if (p === '/') return path.startsWith('/')
  return path === p || path.startsWith(`${p}/`)
}

/** hostPathProblem says why a hostPath may not be mounted whatever the policy: it must be absolute and plain. */
function hostPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'not absolute'
  if (path.split('/').some((s) => s === '..' || s === '.')) return 'has . or .. segments'
  if (path.includes('\0')) return 'has a NUL byte'
  return undefined
}

/**
 * checkPolicy returns the rules a DaemonSet signed by `author` breaks on this host, each as
 * `rule: what` (empty: it may run). Checked, over init and regular containers alike:
 * 1. allowedNamespaces: the DaemonSet's namespace is listed, when the rules list any;
 * 2. allowPrivileged: no container is privileged, unless allowed;
 * 3. allowHostNamespaces: no hostNetwork, hostPID or hostIPC, unless allowed;
 * 4. allowedCapabilities: every added capability is listed (`ALL` allows any);
 * 5. allowedHostPaths: every hostPath volume is absolute, plain (no `.`/`..`), and under a
 *    listed prefix.
 */
export function checkPolicy(policy: WorkloadPolicy, ds: DaemonSet, author: string): string[] {
  const rules = rulesFor(policy, author)
  const out: string[] = []
  const ns = ds.metadata.namespace ?? 'default'
  if (rules.allowedNamespaces !== undefined && !rules.allowedNamespaces.includes(ns)) out.push(`allowedNamespaces: namespace ${ns} is not allowed for key ${author.slice(0, 8)}`) // 1
  const spec = ds.spec.template.spec
  const containers = [...(spec.initContainers ?? []), ...spec.containers]
  if (!rules.allowPrivileged) for (const c of containers) if (c.securityContext?.privileged === true) out.push(`allowPrivileged: container ${c.name} is privileged`) // 2
  if (!rules.allowHostNamespaces) {
    // 3
    for (const f of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (spec[f] === true) out.push(`allowHostNamespaces: ${f}`)
  }
  const caps = new Set(rules.allowedCapabilities.map(normalCapability))
  if (!caps.has('ALL')) {
    // 4
    for (const c of containers) for (const cap of c.securityContext?.capabilities?.add ?? []) if (!caps.has(normalCapability(cap))) out.push(`allowedCapabilities: container ${c.name} adds ${cap}`)
  }
  for (const v of spec.volumes ?? []) {
    // 5
    if (v.hostPath === undefined) continue
    const path = v.hostPath.path
    const why = hostPathProblem(path)
    if (why !== undefined) out.push(`allowedHostPaths: volume ${v.name}: ${JSON.stringify(path)} ${why}`)
    else if (!rules.allowedHostPaths.some((p) => underPrefix(path, p))) out.push(`allowedHostPaths: volume ${v.name}: ${path} is not under an allowed prefix`)
  }
  return out
}
