// The probe deadlines: probeTimeoutMs (at most half the period) over a connection we hold,
// and probeDialMs on top when the member must first be dialled. Both are times, not shares
// of the period: a handshake does not take longer because the period is longer.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { withTimings } from '../../../../agent/defaults.js'
import { Prober } from '../../../../agent/membership/prober.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'

function prober(periodMs: number, connected: string[]): Prober {
  return new Prober({
    transport: {
      open: () => Promise.reject(new Error('no network in this test')),
      serve: () => Promise.resolve(),
      connectedPeers: () => connected,
    },
    clock: new VirtualClock(),
    keyId: 'self',
    periodMs,
    timings: withTimings().membership,
    host: {
      peer: () => undefined,
      view: () => undefined,
      self: () => ({ incarnation: 0, startedAt: 0 }),
      heard: () => undefined,
      alive: () => undefined,
      told: () => undefined,
      fingerprint: () => undefined,
      differs: () => undefined,
    },
    log: pino({ level: 'silent' }),
  })
}

describe('probe deadlines', () => {
  it('a ping over a held connection waits probeTimeoutMs (at most half the period); one that must dial gets probeDialMs more, whatever the period', () => {
    const { probeTimeoutMs, probeDialMs } = withTimings().membership
    assert.equal(probeTimeoutMs, 200)
    assert.equal(probeDialMs, 500)
    for (const [periodMs, base] of [[200, 100], [500, 200], [1000, 200], [2000, 200]] as const) {
      const p = prober(periodMs, ['held'])
      assert.equal(p.timeout(), base, `period ${periodMs}`)
      assert.equal(p.pingTimeout({ keyId: 'a', peerId: 'held', name: 'a', addresses: [] }), base)
      assert.equal(p.pingTimeout({ keyId: 'b', peerId: 'not-held', name: 'b', addresses: [] }), base + probeDialMs, `period ${periodMs}`)
    }
  })
})
