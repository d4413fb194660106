// What this agent announces of its own addresses, and which addresses are its own to dial.
//
// An agent listening on 0.0.0.0 has 127.0.0.1:PORT among its addresses, and often a bridge
// address every host shares (docker0's 172.17.0.1). A peer on another host that dials such
// an address of ours reaches itself: a TCP connection and a whole noise handshake, then
// libp2p's "Can not dial self", on every dial of a member whose record lists it first
// (about 56 times per agent in one run of the e2e lifecycle suite). So loopback addresses are
// not announced when there is anything else to announce, and an address that is one of our
// own (same IP and port) is never dialled.

import { BlockList } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'

const loopback = new BlockList()
loopback.addSubnet('127.0.0.0', 8, 'ipv4')
loopback.addAddress('::1', 'ipv6')

/** endpoint is a multiaddr's `host:port` over TCP, or undefined for any other kind. */
function endpoint(ma: Multiaddr): { key: string; loopback: boolean } | undefined {
  try {
    const o = ma.toOptions()
    if (o.transport !== 'tcp') return undefined
    return { key: `${o.host}:${o.port}`, loopback: loopback.check(o.host, o.family === 6 ? 'ipv6' : 'ipv4') }
  } catch {
    return undefined
  }
}

/** OwnAddresses remembers every address libp2p found for this agent, and filters what it announces. */
export class OwnAddresses {
  private own = new Set<string>()
  /** What we last announced that was not loopback: kept while only loopback remains. */
  private reachable: Multiaddr[] = []

  /**
   * announce is libp2p's announce filter: it notes every address as ours, and drops loopback
   * ones when others remain. When only loopback remains but we had others (the host's links
   * are down: a cable pulled, Wi-Fi lost; Node lists no address of an interface that is not
   * running), it goes on announcing those: no peer can reach us meanwhile, and when the link
   * is back at the same address they find us where they last did, instead of dialling
   * 127.0.0.1, which is each peer itself.
   */
  announce = (addrs: Multiaddr[]): Multiaddr[] => {
    const ends = addrs.map(endpoint)
    const reachable = addrs.filter((_, i) => ends[i]?.loopback !== true)
    if (reachable.length > 0) this.reachable = reachable
    const out = reachable.length > 0 ? reachable : this.reachable.length > 0 ? this.reachable : addrs
    this.own = new Set([...ends, ...out.map(endpoint)].flatMap((e) => (e === undefined ? [] : [e.key])))
    return out
  }

  /** isOwn says whether dialling `ma` would reach this agent (its IP and port are ours). */
  isOwn = (ma: Multiaddr): boolean => {
    const e = endpoint(ma)
    return e !== undefined && this.own.has(e.key)
  }
}
