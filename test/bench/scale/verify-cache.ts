// Every simulated host verifies the same signed records and envelopes (a record reaches all N
// hosts): N Ed25519 verifications of identical bytes. This caches node:crypto's verify by its
// inputs (same data, same key, same signature: same answer), so the simulator pays for one
// and the model charges every host its measured CPU cost in virtual time. It replaces
// crypto.verify for the whole process and updates ES module imports of it
// (module.syncBuiltinESMExports), so it must run before any host does. Simulator only.

import crypto, { createHash, type KeyObject } from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'

/** installVerifyCache caches crypto.verify results (at most `max` entries; cleared when full). */
export function installVerifyCache(max = 1_000_000): { hits: () => number } {
  const original = crypto.verify
  const cache = new Map<string, boolean>()
  const keyIds = new WeakMap<KeyObject, string>()
  let hits = 0
  const keyIdOf = (key: KeyObject): string => {
    let id = keyIds.get(key)
    if (id === undefined) {
      id = key.export({ format: 'der', type: 'spki' }).toString('base64')
      keyIds.set(key, id)
    }
    return id
  }
  const cached = ((algorithm: string | null | undefined, data: NodeJS.ArrayBufferView, key: unknown, signature: NodeJS.ArrayBufferView, callback?: unknown): unknown => {
    if (callback !== undefined || typeof key !== 'object' || key === null || !('export' in key)) return (original as (...a: unknown[]) => unknown)(algorithm, data, key, signature, callback)
    const h = createHash('sha256')
      .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      .digest('base64')
    const id = `${algorithm ?? ''} ${keyIdOf(key as KeyObject)} ${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64')} ${h}`
    const hit = cache.get(id)
    if (hit !== undefined) {
      hits++
      return hit
    }
    const ok = original(algorithm, data, key as KeyObject, signature)
    if (cache.size >= max) cache.clear()
    cache.set(id, ok)
    return ok
  }) as typeof crypto.verify
  crypto.verify = cached
  syncBuiltinESMExports()
  return { hits: () => hits }
}
