// Mesh upkeep: one round of dials at a time, so a dial that hangs is abandoned at its
// deadline instead of being joined by the next round's (libp2p aborts a shared dial only when
// every caller has given up).

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { withTimings } from '../../../../agent/defaults.js'
import { MeshKeeper, type MeshOptions } from '../../../../agent/membership/mesh.js'
import { Metrics } from '../../../../agent/metrics.js'
import { VirtualClock, settle } from '../../../helpers/virtual-clock.js'

const PERIOD = 500

/** lone returns the mesh keeper of an agent with no connections and one bootstrap address. */
function lone(transport: MeshOptions['transport'], clock: VirtualClock, timings: Partial<MeshOptions['timings']> = {}): MeshKeeper {
  return new MeshKeeper({
    transport,
    clock,
    periodMs: PERIOD,
    targetPeers: 3,
    bootstrap: ['/ip4/127.0.0.1/tcp/4001'],
    dialTimeoutMs: 5000,
    timings: { ...withTimings().membership, ...timings },
    candidates: () => [],
    hangingUp: () => undefined,
    random: Math.random,
    metrics: new Metrics(),
    log: pino({ level: 'silent' }),
  })
}

describe('mesh upkeep', () => {
  it('a lone agent does not dial its bootstrap peer again while the last dial is pending', async () => {
    const clock = new VirtualClock()
    const pending: ((err: Error) => void)[] = []
    const transport = {
      connectedPeers: (): string[] => [],
      dial: (): Promise<string> => new Promise<string>((_resolve, reject) => pending.push(reject)),
      hangUp: async (): Promise<void> => undefined,
    }
    const mesh = lone(transport, clock)
    // Periods go on (the agent does not await them) while the first dial hangs.
    for (let i = 0; i < 20; i++) {
      void mesh.keep()
      await clock.advance(PERIOD)
      await settle()
    }
    assert.equal(pending.length, 1, 'one dial in flight, not one per retry')
    // It fails at its deadline; the next retry dials afresh.
    pending[0]?.(new Error('The operation was aborted due to timeout'))
    await settle()
    for (let i = 0; i < 4; i++) {
      void mesh.keep()
      await clock.advance(PERIOD)
      await settle()
    }
    assert.equal(pending.length, 2)
  })

  it("a bootstrap dial's deadline doubles with each attempt in a row that failed, up to the cap, and resets once one connects", async () => {
    const clock = new VirtualClock()
    const deadlines: number[] = []
    let answer = false
    const transport = {
      connectedPeers: (): string[] => [],
      dial: async (_addr: string, timeoutMs?: number): Promise<string> => {
        deadlines.push(timeoutMs ?? -1)
        if (answer) return 'peer-1'
        throw new Error('The operation was aborted due to timeout')
      },
      hangUp: async (): Promise<void> => undefined,
    }
    const mesh = lone(transport, clock, { bootstrapDialMaxMs: 40_000 })
    const attempt = async (): Promise<void> => {
      await clock.advance(withTimings().membership.bootstrapRetryBeats * PERIOD)
      await mesh.dialBootstrap()
    }
    for (let i = 0; i < 6; i++) await attempt()
    assert.deepEqual(deadlines, [5000, 10_000, 20_000, 40_000, 40_000, 40_000])
    answer = true
    await attempt()
    answer = false
    await attempt()
    assert.deepEqual(deadlines.slice(6), [40_000, 5000], 'a connected attempt resets the deadline')
  })
})
