// Operator writes from the API: verified and synced to disk by the store, then gossiped on
// the store topic. Envelopes written together go as one message (core/batch.ts) when every
// member reads batches and they fit one; otherwise one message each.

import { MAX_BATCH_BYTES, knowsBatches } from '../../core/batch.js'
import type { BatchMergeResult, MergeResult } from '../../core/crdt.js'
import { Topics } from '../network/constants.js'
import type { Transport } from '../transport.js'
import type { Store } from './store.js'

export interface StoreWrites {
  write(input: unknown): Promise<MergeResult>
  writeAll(inputs: unknown[]): Promise<BatchMergeResult>
}

/** storeWrites writes through `store` and publishes on `transport`; `versions` lists the agent versions of the members still in the fleet. */
export function storeWrites(store: Store, transport: Pick<Transport, 'publish'>, versions: () => string[]): StoreWrites {
  const publish = (value: unknown): Promise<void> => transport.publish(Topics.store, new TextEncoder().encode(JSON.stringify(value)))
  return {
    write: async (input) => {
      const r = await store.apply(input, 'api')
      if (r.status === 'applied') await publish(input)
      return r
    },
    writeAll: async (inputs) => {
      const r = await store.applyAll(inputs, 'api')
      if (r.status === 'rejected') return r
      const won = inputs.filter((_, i) => r.results[i]?.status === 'applied')
      const batch = { batch: won }
      const together = won.length > 1 && Buffer.byteLength(JSON.stringify(batch)) <= MAX_BATCH_BYTES && versions().every(knowsBatches)
      if (together) await publish(batch)
      else for (const env of won) await publish(env)
      return r
    },
  }
}
