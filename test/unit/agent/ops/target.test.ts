// The host side of logs and exec, on plain data: the target checks every request itself,
// whatever the agent that forwarded it checked, and serves only its own copies.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pino from 'pino'
import { OpsTarget } from '../../../../agent/ops/target.js'
import type { ServerFrame } from '../../../../agent/ops/frames.js'
import type { OutputChunk } from '../../../../agent/runtime/runtime.js'
import type { ObservedContainer } from '../../../../core/reconcile.js'
import { generateKeyPair, parsePrivateKey } from '../../../../core/keys.js'
import { NonceBook, signOpsRequest, type UnsignedOpsRequest } from '../../../../core/ops-request.js'
import { VirtualClock } from '../../../helpers/virtual-clock.js'

const operator = generateKeyPair()
const key = parsePrivateKey(operator.privateKeyPem)
const stranger = parsePrivateKey(generateKeyPair().privateKeyPem)

const container = (name: string, c: string, podOwner: string): ObservedContainer => ({ id: name, name, daemonSet: 'default.agent', revision: 'r', container: c, podOwner, running: true, createdAt: 0, labels: {} })

function setup(): { target: OpsTarget; clock: VirtualClock; ran: string[][] } {
  const clock = new VirtualClock()
  const ran: string[][] = []
  const runtime = {
    list: async () => [container('dm-main', 'main', 'dm-main'), container('dm-side', 'side', 'dm-main')],
    async *logs(name: string): AsyncGenerator<OutputChunk> {
      yield { stream: 'stdout', data: Buffer.from(`log of ${name}\n`) }
    },
    async execAttached(name: string, cmd: readonly string[], _o: unknown, onOutput: (c: OutputChunk) => Promise<void>): Promise<number> {
      ran.push([name, ...cmd])
      await onOutput({ stream: 'stderr', data: Buffer.from('e') })
      return 7
    },
  }
  const target = new OpsTarget({ runtime, clock, selfName: () => 'host-1', trusts: (a) => a === operator.id, nonces: new NonceBook(), log: pino({ level: 'silent' }) })
  return { target, clock, ran }
}

const serve = async (target: OpsTarget, request: unknown): Promise<ServerFrame[]> => {
  const frames: ServerFrame[] = []
  await target.handle(request, undefined, async (f) => void frames.push(f), new AbortController().signal)
  return frames
}

const exec: UnsignedOpsRequest = { kind: 'exec', ds: 'default/agent', node: 'host-1', exec: { command: ['id'], stdin: false, tty: false } }

describe('operations target', () => {
  it('runs a valid exec in the first container and returns its output and exit code', async () => {
    const { target, clock, ran } = setup()
    const frames = await serve(target, signOpsRequest(exec, key, clock.wall()))
    assert.deepEqual(frames, [{ t: 'out', s: 'stderr', d: Buffer.from('e').toString('base64') }, { t: 'exit', code: 7 }, { t: 'end' }])
    assert.deepEqual(ran, [['dm-main', 'id']])
  })

  it('-c picks the container; an unknown one is refused naming the pod\'s', async () => {
    const { target, clock } = setup()
    const logs = await serve(target, signOpsRequest({ kind: 'logs', ds: 'default/agent', node: '*', container: 'side', logs: { follow: false, previous: false, timestamps: false } }, key, clock.wall()))
    assert.deepEqual(logs.map((f) => (f.t === 'out' ? Buffer.from(f.d, 'base64').toString() : f.t)), ['log of dm-side\n', 'end'])
    const bad = await serve(target, signOpsRequest({ ...exec, container: 'nope' }, key, clock.wall()))
    assert.deepEqual(bad, [{ t: 'error', message: 'container nope is not valid for pod agent-host-1: choose one of [main side]' }])
  })

  const refused: [string, (clock: VirtualClock) => unknown, string][] = [
    ['signed by an untrusted key', (c) => signOpsRequest(exec, stranger, c.wall()), 'untrusted'],
    ['expired by this host\'s clock', (c) => signOpsRequest(exec, key, c.wall() - 60_000), 'expired'],
    ['with a changed command', (c) => ({ ...signOpsRequest(exec, key, c.wall()), exec: { command: ['sh'], stdin: false, tty: false } }), 'signature'],
    ['meant for another node', (c) => signOpsRequest({ ...exec, node: 'host-2' }, key, c.wall()), 'malformed'],
    ['unsigned', () => ({ kind: 'exec', ds: 'default/agent', node: 'host-1', exec: { command: ['id'], stdin: false, tty: false } }), 'malformed'],
  ]
  for (const [name, make, reason] of refused) {
    it(`refuses a request ${name}, running nothing`, async () => {
      const { target, clock, ran } = setup()
      const frames = await serve(target, make(clock))
      assert.equal(frames.length, 1)
      assert.equal(frames[0]?.t, 'error')
      assert.equal((frames[0] as { reason?: string }).reason, reason)
      assert.deepEqual(ran, [])
    })
  }

  it('refuses a request used before', async () => {
    const { target, clock, ran } = setup()
    const r = signOpsRequest(exec, key, clock.wall())
    await serve(target, r)
    const again = await serve(target, r)
    assert.equal((again[0] as { reason?: string }).reason, 'replayed')
    assert.equal(ran.length, 1)
  })
})
