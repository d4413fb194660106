// Every simulated host parses the same gossiped envelope (a node record reaches all N hosts)
// into its own copy: N copies of every record, the simulator's largest cost in memory
// (docs/scale-simulator.md). This caches JSON.parse for signed envelopes only (text that
// starts with `{"key":"`, as signEnvelope's JSON does, at least 200 characters), so every
// host holds the same parsed object, frozen: a host that tried to change it would throw
// instead of changing another host's copy. Records are immutable in the agent (a new version
// is a new envelope), so sharing changes nothing the hosts compute. The modelled CPU cost of
// each host's parse stands. Replaces JSON.parse for the whole process. Simulator only.

/** deepFreeze freezes a parsed JSON value and everything in it. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v)
    for (const x of Object.values(v)) deepFreeze(x)
  }
  return v
}

/** installParseCache shares parsed envelopes between hosts (at most `max` cached; cleared when full). */
export function installParseCache(max = 500_000): { hits: () => number } {
  const original = JSON.parse
  const cache = new Map<string, unknown>()
  let hits = 0
  JSON.parse = function parse(text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown): unknown {
    if (reviver !== undefined || typeof text !== 'string' || text.length < 200 || !text.startsWith('{"key":"')) return original(text, reviver)
    const hit = cache.get(text)
    if (hit !== undefined) {
      hits++
      return hit
    }
    const v = deepFreeze(original(text) as unknown)
    if (cache.size >= max) cache.clear()
    cache.set(text, v)
    return v
  } as typeof JSON.parse
  return { hits: () => hits }
}
