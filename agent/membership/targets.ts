// Whom the failure detector probes, whom it asks for help, and how their answers combine.
// Members this agent holds a connection to come first. A probe to one of them is two frames
// on an open link; a probe to any member of a large fleet would cost a dial and a noise
// handshake each time, and churn connections at the cap. Every member is connected to
// several others, which probe it, so each member is still probed about once per period
// somewhere in the fleet.

import type { Transport } from '../transport.js'
import type { Member, MemberTable } from './members.js'

type Peers = Pick<Transport, 'connectedPeers'>

/** connectedMembers returns the key ids of the members we hold a connection to (bounded by the connection cap, not the fleet). */
export function connectedMembers(members: MemberTable, transport: Peers): Set<string> {
  const ids = new Set<string>()
  for (const peer of transport.connectedPeers()) {
    const m = members.ofPeer(peer)
    if (m !== undefined) ids.add(m.keyId)
  }
  return ids
}

/** nextTarget is the next member in the probe order that is free (`free`) and connected, or any free one when no connected one is (a lone agent, a start). */
export function nextTarget(members: MemberTable, transport: Peers, free: (keyId: string) => boolean): string | undefined {
  const connected = connectedMembers(members, transport)
  return members.nextToProbe((id) => free(id) && connected.has(id)) ?? members.nextToProbe(free)
}

/** helpersFor picks k members to probe `target` for us (ping-req), connected ones first. */
export function helpersFor(members: MemberTable, transport: Peers, target: string, k: number): Member[] {
  const connected = connectedMembers(members, transport)
  const near = members.helpers(k, (id) => id !== target && connected.has(id))
  return near.length >= k ? near : [...near, ...members.helpers(k - near.length, (id) => id !== target && !connected.has(id))]
}

/** firstAck resolves as soon as one answer is an ack, or once all are in, with the nacks counted. */
export function firstAck(answers: Promise<'ack' | 'nack' | 'none'>[]): Promise<{ acked: boolean; nacks: number }> {
  return new Promise((resolve) => {
    let pending = answers.length
    let nacks = 0
    if (pending === 0) resolve({ acked: false, nacks })
    for (const a of answers) {
      void a.then((r) => {
        if (r === 'ack') resolve({ acked: true, nacks })
        if (r === 'nack') nacks++
        if (--pending === 0) resolve({ acked: false, nacks })
      })
    }
  })
}
