// Template revisions: a stable hash of the (defaulted) pod template names a revision and
// tells when the template changed. No I/O here.

import { createHash } from 'node:crypto'
import { canonicalJson } from './canonical.js'
import type { DaemonSet, PodTemplateSpec } from './types.js'

/** Length of a revision hash: short enough for container names, long enough to never collide in practice. */
export const REVISION_HASH_LENGTH = 10

/** templateHash returns the revision hash of a pod template (same content, any key order -> same hash). */
export function templateHash(template: PodTemplateSpec): string {
  const digest = createHash('sha256').update(canonicalJson(template)).digest()
  // Base-32 without vowels (like Kubernetes' SafeEncodeString) keeps hashes from spelling words.
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  let out = ''
  for (let i = 0; out.length < REVISION_HASH_LENGTH; i++) out += alphabet[(digest[i] ?? 0) % alphabet.length]
  return out
}

/** revisionOf returns the revision hash of a DaemonSet's current template. */
export function revisionOf(ds: DaemonSet): string {
  return templateHash(ds.spec.template)
}
