// Every simulated host validates the same gossiped records with the same zod schemas (a node
// record reaches all N hosts, and parse-cache.ts hands each of them the same frozen object):
// N identical parses. This caches a schema's safeParse by the identity of a frozen input, so
// the process parses each shared object once per schema and every host gets the same
// result, its data frozen too (a host that tried to change it would throw instead of
// changing another host's copy). A frozen object cannot change, so the answer cannot either;
// inputs that are not frozen objects are parsed as before. The modelled CPU cost of each
// host's check stands. Patches zod for the whole process. Simulator only.

import { z } from 'zod'

/** deepFreeze freezes a value and everything in it. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) deepFreeze(x)
  }
  return v
}

/**
 * installZodCache shares valid parse results on frozen inputs between hosts. zod binds each
 * schema's safeParse to it when the schema is built (at import), so the patch is one level
 * down, on `_parseSync`, which safeParse and the schemas that hold other schemas call with
 * `{ data, path, parent }`; only valid results are cached (an invalid one reports its issues
 * through `parent`, which differs at each call).
 */
export function installZodCache(): { hits: () => number } {
  type Result = { status: string; value?: unknown }
  const proto = z.ZodType.prototype as unknown as { _parseSync: (this: object, input: { data: unknown }) => Result }
  const original = proto._parseSync
  const bySchema = new WeakMap<object, WeakMap<object, unknown>>()
  let hits = 0
  proto._parseSync = function _parseSync(this: object, input: { data: unknown }): Result {
    const data = input.data
    if (typeof data !== 'object' || data === null || !Object.isFrozen(data)) return original.call(this, input)
    let results = bySchema.get(this)
    if (results === undefined) {
      results = new WeakMap()
      bySchema.set(this, results)
    }
    if (results.has(data)) {
      hits++
      return { status: 'valid', value: results.get(data) }
    }
    const res = original.call(this, input)
    if (res.status === 'valid') results.set(data, deepFreeze(res.value))
    return res
  }
  return { hits: () => hits }
}
