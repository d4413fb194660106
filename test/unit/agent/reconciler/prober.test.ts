// The prober on a virtual clock with a scripted exec: the startup probe runs first and
// holds back readiness and liveness; liveness failing failureThreshold times in a row makes
// the container unhealthy; a replaced container (new id) is probed afresh.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { Prober, type ProbeFailure, type ProbeSubject } from '../../../../agent/reconciler/prober.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'

const check = (cmd: string, o: Record<string, number> = {}): string => JSON.stringify({ exec: [cmd], initialDelaySeconds: 0, periodSeconds: 1, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 2, ...o })

describe('prober: liveness and startup', () => {
  const setup = (): { clock: VirtualClock; prober: Prober; codes: Map<string, number>; ran: string[]; failures: ProbeFailure[]; changes: { n: number } } => {
    const clock = new VirtualClock()
    const codes = new Map<string, number>()
    const ran: string[] = []
    const failures: ProbeFailure[] = []
    const changes = { n: 0 }
    const runtime = {
      exec: async (_name: string, cmd: readonly string[]) => {
        ran.push(cmd[0] ?? '')
        return codes.get(cmd[0] ?? '') ?? 0
      },
      address: async () => '127.0.0.1',
    }
    const prober = new Prober(runtime, clock, pino({ level: 'silent' }), () => changes.n++, (f) => failures.push(f))
    return { clock, prober, codes, ran, failures, changes }
  }
  const subject = (o: Partial<ProbeSubject> = {}): ProbeSubject => ({ id: 'id1', name: 'c', running: true, podOwner: 'c', ...o })

  it('the startup probe runs first; readiness and liveness begin once it passed', async () => {
    const { clock, prober, codes, ran } = setup()
    codes.set('start', 1)
    prober.sync([subject({ startup: check('start', { failureThreshold: 5 }), readiness: check('ready'), liveness: check('live') })])
    await clock.advance(2500)
    assert.deepEqual(ran, ['start', 'start', 'start'])
    assert.deepEqual(prober.result('c'), { ready: false, why: 'startup probe failed: command "start" exited with 1' })
    codes.set('start', 0)
    await clock.advance(1000)
    assert.ok(ran.includes('ready') && ran.includes('live'), ran.join(' '))
    assert.deepEqual(prober.result('c'), { ready: true })
  })

  it('liveness failing failureThreshold times makes the container unhealthy, and probing stops', async () => {
    const { clock, prober, codes, ran, failures, changes } = setup()
    prober.sync([subject({ liveness: check('live') })])
    await clock.advance(1500)
    assert.deepEqual(prober.result('c'), { ready: true })
    codes.set('live', 1)
    await clock.advance(1000)
    assert.equal(prober.result('c')?.unhealthy, undefined, 'one failure is not enough')
    await clock.advance(1000)
    assert.equal(prober.result('c')?.unhealthy, 'Liveness probe failed: command "live" exited with 1')
    assert.equal(changes.n, 1)
    assert.deepEqual(failures.map((f) => f.kind), ['liveness', 'liveness'])
    const n = ran.length
    await clock.advance(5000)
    assert.equal(ran.length, n, 'no probing while the restart is pending')
    // Restarted (stopped, then running again): probed afresh.
    prober.sync([subject({ running: false, liveness: check('live') })])
    codes.set('live', 0)
    prober.sync([subject({ liveness: check('live') })])
    await clock.advance(1500)
    assert.deepEqual(prober.result('c'), { ready: true })
  })

  it('a startup probe that fails failureThreshold times makes the container unhealthy', async () => {
    const { clock, prober, codes } = setup()
    codes.set('start', 1)
    prober.sync([subject({ startup: check('start') })])
    await clock.advance(2500)
    assert.equal(prober.result('c')?.unhealthy, 'Startup probe failed: command "start" exited with 1')
  })
})
