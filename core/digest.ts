// The bucketed digest anti-entropy compares instead of whole maps. Each key falls in one of
// 2^DIGEST_BITS fine buckets by a hash of the key alone (so a key stays in its bucket across
// versions); a bucket's hash is the XOR of a 64-bit hash of (key, version) over its entries.
// XOR makes the digest independent of insertion order and cheap to keep up to date — a new
// version costs two XORs — and makes coarser views free: the hash of a bucket at a coarser
// level is the XOR of the fine buckets it covers. The root is a SHA-256 of the fine buckets.
// Pure: no I/O, no clock, no randomness.

import { createHash } from 'node:crypto'

/** DIGEST_BITS: a digest keeps 2^12 fine buckets (32 KiB of hashes per map). */
export const DIGEST_BITS = 12

/** MIN_DIGEST_LEVEL: the coarsest view peers exchange has 2^4 buckets. */
export const MIN_DIGEST_LEVEL = 4

/** BUCKET_HASH_BYTES: each bucket's hash on the wire (64 bits). */
export const BUCKET_HASH_BYTES = 8

const FINE = 1 << DIGEST_BITS

function fineBucket(key: string): number {
  return createHash('sha256').update(key).digest().readUInt16BE(0) >>> (16 - DIGEST_BITS)
}

/** bucketOf returns the bucket of `key` among the 2^level buckets of a view at `level`. */
export function bucketOf(key: string, level: number): number {
  return fineBucket(key) >>> (DIGEST_BITS - level)
}

/**
 * digestLevel returns the level two peers compare a map of about `entries` entries at:
 * about 3·√entries buckets, which balances the bucket hashes sent (8 bytes each) against
 * the summaries of one differing bucket (~90 bytes per entry). Clamped to
 * [MIN_DIGEST_LEVEL, DIGEST_BITS].
 */
export function digestLevel(entries: number): number {
  const level = Math.round(Math.log2(3 * Math.sqrt(Math.max(entries, 1))))
  return Math.min(DIGEST_BITS, Math.max(MIN_DIGEST_LEVEL, level))
}

/** differingBuckets returns the indexes of the buckets whose hashes differ in two views of the same level. */
export function differingBuckets(ours: Uint8Array, theirs: Uint8Array): number[] {
  if (ours.length !== theirs.length) throw new RangeError(`bucket views of different sizes (${ours.length} and ${theirs.length} bytes)`)
  const out: number[] = []
  for (let b = 0; b * BUCKET_HASH_BYTES < ours.length; b++) {
    for (let i = b * BUCKET_HASH_BYTES; i < (b + 1) * BUCKET_HASH_BYTES; i++) {
      if (ours[i] !== theirs[i]) {
        out.push(b)
        break
      }
    }
  }
  return out
}

/**
 * BucketDigest is the digest of one map, kept up to date by `update` as entries change.
 * It also indexes keys by bucket, so a bucket's entries are found without a scan of the map.
 */
export class BucketDigest {
  /** Per fine bucket, the XOR of its entries' hashes as two 32-bit halves (high, low). */
  private readonly hashes = new Uint32Array(2 * FINE)
  private readonly members: (Set<string> | undefined)[] = new Array<Set<string> | undefined>(FINE)
  private cachedRoot: string | undefined

  /**
   * update records that `key` went from version `before` to version `after` (undefined:
   * absent). Callers pass the versions exactly as they were: the XOR of a version that was
   * never added corrupts the digest.
   */
  update(key: string, before: string | undefined, after: string | undefined): void {
    if (before === after) return
    const fine = fineBucket(key)
    if (before !== undefined) this.toggle(fine, key, before)
    if (after !== undefined) this.toggle(fine, key, after)
    if (before === undefined) {
      const set = this.members[fine] ?? new Set<string>()
      set.add(key)
      this.members[fine] = set
    } else if (after === undefined) {
      this.members[fine]?.delete(key)
    }
    this.cachedRoot = undefined
  }

  /** root returns the hex SHA-256 of the fine buckets: equal roots mean equal maps. Cached until the next change. */
  root(): string {
    this.cachedRoot ??= createHash('sha256').update(this.buckets(DIGEST_BITS)).digest('hex')
    return this.cachedRoot
  }

  /** buckets returns the view at `level`: each of its 2^level bucket hashes, big-endian, concatenated. */
  buckets(level: number): Uint8Array {
    checkLevel(level)
    const per = 1 << (DIGEST_BITS - level)
    const out = Buffer.alloc(BUCKET_HASH_BYTES << level)
    for (let b = 0; b < 1 << level; b++) {
      let hi = 0
      let lo = 0
      for (let f = b * per; f < (b + 1) * per; f++) {
        hi ^= this.hashes[2 * f] as number
        lo ^= this.hashes[2 * f + 1] as number
      }
      out.writeUInt32BE(hi >>> 0, b * BUCKET_HASH_BYTES)
      out.writeUInt32BE(lo >>> 0, b * BUCKET_HASH_BYTES + 4)
    }
    return out
  }

  /** keys returns the keys in bucket `bucket` of the view at `level`. */
  keys(level: number, bucket: number): string[] {
    checkLevel(level)
    const per = 1 << (DIGEST_BITS - level)
    const out: string[] = []
    for (let f = bucket * per; f < (bucket + 1) * per && f < FINE; f++) for (const k of this.members[f] ?? []) out.push(k)
    return out
  }

  private toggle(fine: number, key: string, version: string): void {
    const h = createHash('sha256').update(`${key}\n${version}`).digest()
    this.hashes[2 * fine] = ((this.hashes[2 * fine] as number) ^ h.readUInt32BE(0)) >>> 0
    this.hashes[2 * fine + 1] = ((this.hashes[2 * fine + 1] as number) ^ h.readUInt32BE(4)) >>> 0
  }
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < 0 || level > DIGEST_BITS) throw new RangeError(`digest level ${level} is not in [0, ${DIGEST_BITS}]`)
}
