// Ordering strings by their UTF-16 code units, as `<` does. String.prototype.localeCompare
// orders by a locale's collation, which V8 gets from ICU: the first call loads the root
// collation's data, about 2.5 MB of memory an agent then keeps for its life
// (docs/idle-cost.md). Names, keys and addresses only need a stable order.

/** byCodeUnit compares two strings by code unit, for Array.prototype.sort. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
