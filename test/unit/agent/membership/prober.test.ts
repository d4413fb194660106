// The probe deadlines: a share of the period over a connection we hold, and a fixed
// allowance on top when the member must first be dialled (not a period: a handshake does
// not take longer because the period is longer).

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
  it('a ping over a held connection waits 0.2 of the period; one that must dial gets probeDialMs more, whatever the period', () => {
    const dialMs = withTimings().membership.probeDialMs
    assert.equal(dialMs, 500)
    for (const periodMs of [500, 1000, 2000]) {
      const p = prober(periodMs, ['held'])
      assert.equal(p.timeout(), periodMs * 0.2)
      assert.equal(p.pingTimeout({ keyId: 'a', peerId: 'held', name: 'a', addresses: [] }), periodMs * 0.2)
      assert.equal(p.pingTimeout({ keyId: 'b', peerId: 'not-held', name: 'b', addresses: [] }), periodMs * 0.2 + dialMs, `period ${periodMs}`)
    }
  })
})
