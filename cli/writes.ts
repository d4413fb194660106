// Writing signed envelopes through the API. Envelopes of one write (a DaemonSet and its
// revision history) go as one batch (`POST /v1/envelopes/batch`, core/batch.ts): one request,
// verified as a whole by the agent and gossiped as one message. An agent that predates
// batches answers 404 for the route; it then gets them one by one, in order.

import { MAX_BATCH_BYTES } from '../core/batch.js'
import type { Envelope } from '../core/envelope.js'
import { ApiError, call, type AgentTarget } from './client.js'

/** writeEnvelopes writes `envs` (at least one) as one write when the agent takes batches, else in order. */
export async function writeEnvelopes(target: AgentTarget, envs: readonly Envelope[]): Promise<void> {
  if (envs.length > 1 && Buffer.byteLength(JSON.stringify({ envelopes: envs })) <= MAX_BATCH_BYTES) {
    try {
      await call(target, 'POST', '/v1/envelopes/batch', { envelopes: envs })
      return
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) throw err
    }
  }
  for (const env of envs) await call(target, 'POST', '/v1/envelopes', env)
}
