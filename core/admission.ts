// Store admission: what a signed envelope may carry under its key. Every agent runs this on
// every envelope it would store, whether from the API, a peer or its own disk, so a value
// that got past one agent is refused by all of them alike. Pure: no I/O, no logging, and
// no trust decision (whether the author may write at all is the signature check's).

import { z } from 'zod'
import { MAX_WALL_MS } from './bounds.js'
import { parseConfigMap } from './configmap.js'
import { parseStoredSecret } from './secret.js'
import { formatIssue } from './errors.js'
import { historySchema } from './history.js'
import { parseStoreKey, refOf } from './keyspace.js'
import { releaseRequestSchema } from './lease.js'
import { parseDaemonSet } from './manifest.js'
import { admissionValueSchema } from './node-admission.js'
import { nodeOverlaySchema } from './overlay.js'

/**
 * podDeleteSchema bounds a request to delete one node's copy (OnDelete updates, stored
 * under `pods/NAMESPACE/NAME/NODE`): the copy the node reported, by revision and start time
 * (ms), so that a copy started after the request is left alone.
 */
export const podDeleteSchema = z.object({ revision: z.string().max(64), since: z.number().int().min(0).max(MAX_WALL_MS) }).strict()

export type PodDeleteRequest = z.infer<typeof podDeleteSchema>

/** deleteDetailsSchema bounds what a DaemonSet's tombstone may say about how to delete it. */
export const deleteDetailsSchema = z.object({ cascade: z.enum(['background', 'orphan']) }).strict()

export type DeleteDetails = z.infer<typeof deleteDetailsSchema>

/** firstIssue renders the first problem zod found as `path: message`. */
function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  return `${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`
}

/** carriesNothing is the rule for deletes that have no details: the tombstone has no value. */
function carriesNothing(value: unknown, what: string): string | undefined {
  return value === undefined ? undefined : `a ${what} delete carries nothing`
}

/**
 * checkStoreValue says why an envelope with `op` and `value` may not be stored under `key`,
 * and returns undefined when it may. Refused when:
 * 1. the key is not a store key (see keyspace.ts): not `ds/NS/NAME`, `history/NS/NAME`,
 *    `pods/NS/NAME/NODE` or `nodes/NODE` with every part a valid name. Node records
 *    (`node/KEYID`) are refused too: they live in the membership map, not in the store;
 * 2. a DaemonSet put is not a valid DaemonSet (parseDaemonSet, defaults applied);
 * 3. a DaemonSet put is stored under another namespace or name than its own;
 * 4. a DaemonSet delete carries anything but `{cascade: "background" | "orphan"}`;
 * 5. a history put is not a revision history (historySchema);
 * 6. a pod delete request put is not `{revision, since}` (podDeleteSchema);
 * 7. a node overlay put is not an overlay (nodeOverlaySchema);
 * 8. a delete of a history, a pod delete request or a node overlay carries a value;
 * 9. a ConfigMap put is not a valid ConfigMap (parseConfigMap), or is stored under another
 *    namespace or name than its own; its delete carries a value;
 * 10. a slot release request put is not `{kind, slot, term, revision}` (releaseRequestSchema);
 *    its delete carries a value.
 * 11. a node admission (`admission/NODE`) put or delete does not carry exactly `{keyId}`
 *    (the key admitted, or the key deleted).
 * 12. a Secret put is not a sealed Secret (parseStoredSecret: plaintext `data` is refused),
 *    or is stored under another namespace or name than its own; its delete carries a value.
 */
export function checkStoreValue(key: string, op: 'put' | 'delete', value: unknown): string | undefined {
  const parsed = parseStoreKey(key)
  switch (parsed?.kind) {
    case 'daemonSet': {
      if (op === 'delete') return value === undefined || deleteDetailsSchema.safeParse(value).success ? undefined : 'a delete may only carry {"cascade": "background"|"orphan"}' // 4
      const { daemonSet, errors } = parseDaemonSet(value)
      if (daemonSet === undefined) return `invalid DaemonSet: ${errors.map(formatIssue).join('; ')}` // 2
      const own = refOf(daemonSet)
      return own.key === parsed.ref.key ? undefined : `DaemonSet ${own.key} stored under ${key}` // 3
    }
    case 'history': {
      if (op === 'delete') return carriesNothing(value, 'history') // 8
      const r = historySchema.safeParse(value)
      return r.success ? undefined : `invalid revision history: ${firstIssue(r.error)}` // 5
    }
    case 'podDelete':
      if (op === 'delete') return carriesNothing(value, 'pod request') // 8
      return podDeleteSchema.safeParse(value).success ? undefined : 'a pod delete request is {"revision": HASH, "since": MS}' // 6
    case 'overlay': {
      if (op === 'delete') return carriesNothing(value, 'node overlay') // 8
      const r = nodeOverlaySchema.safeParse(value)
      return r.success ? undefined : `invalid node overlay: ${firstIssue(r.error)}` // 7
    }
    case 'configMap': {
      if (op === 'delete') return carriesNothing(value, 'ConfigMap') // 9
      const { configMap, errors } = parseConfigMap(value)
      if (configMap === undefined) return `invalid ConfigMap: ${errors.map(formatIssue).join('; ')}` // 9
      const own = `${configMap.metadata.namespace}/${configMap.metadata.name}`
      return own === parsed.ref.key ? undefined : `ConfigMap ${own} stored under ${key}` // 9
    }
    case 'leaseRelease': {
      if (op === 'delete') return carriesNothing(value, 'slot release') // 10
      const r = releaseRequestSchema.safeParse(value)
      return r.success ? undefined : `invalid slot release: ${firstIssue(r.error)}` // 10
    }
    case 'admission':
      return admissionValueSchema.safeParse(value).success ? undefined : 'a node admission carries {"keyId": KEYID}' // 11
    case 'secret': {
      if (op === 'delete') return carriesNothing(value, 'Secret') // 12
      const { secret, errors } = parseStoredSecret(value)
      if (secret === undefined) return `invalid Secret: ${errors.map(formatIssue).join('; ')}` // 12
      const own = `${secret.metadata.namespace}/${secret.metadata.name}`
      return own === parsed.ref.key ? undefined : `Secret ${own} stored under ${key}` // 12
    }
    default:
      // Unparsed keys, node records, and any kind added to the keyspace later: refused
      // until a rule here admits them.
      return `unknown key ${key}` // 1
  }
}
