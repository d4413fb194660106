// A rogue peer for security tests: a real libp2p node that holds the cluster key but is
// not trusted for anything. Tests only.

import { pino } from 'pino'
import { loadClusterKey, loadOrCreatePeerKey, nodeSigningKey, keyIdOfPeerPublicKey } from '../../agent/network/keys.js'
import { defaultTimings } from '../../agent/defaults.js'
import { PROBE_LINK_PROTOCOL, Topics } from '../../agent/network/constants.js'
import { serveLink } from '../../agent/link.js'
import { MAX_PROBE_FRAME_BYTES } from '../../agent/membership/messages.js'
import { Network } from '../../agent/network/network.js'
import type { KeyObject } from 'node:crypto'

export interface Rogue {
  net: Network
  signingKey: KeyObject
  keyId: string
}

/** startRogue makes a libp2p node with the cluster key at `pskFile`, its peer key in `dir`. */
export async function startRogue(pskFile: string, dir: string): Promise<Rogue> {
  const { psk } = await loadClusterKey(pskFile, false)
  const { key } = await loadOrCreatePeerKey(`${dir}/rogue-peer.key`)
  const net = await Network.create({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], psk, mdns: false, maxConnections: 16, timings: defaultTimings(), logger: pino({ level: 'silent' }) })
  for (const topic of Object.values(Topics)) net.subscribe(topic, () => 'accept')
  return { net, signingKey: nodeSigningKey(key), keyId: keyIdOfPeerPublicKey(key.publicKey.raw) }
}

/**
 * answerProbes makes the rogue ack every ping on a probe link, so the agents' failure
 * detectors keep it Alive once they take it for a member (or list it Pending): it lies about
 * the lease or floods records, not about being there. One that answered nothing was declared
 * Unreachable mid-test, and the agent then hung up on it, which changed the voters' views
 * under a claim (lease-hygiene) and dropped the connection a later case used (sybil).
 */
export async function answerProbes(rogue: Rogue): Promise<void> {
  await rogue.net.serve(PROBE_LINK_PROTOCOL, (channel) => serveLink(channel, async (raw) => {
    const frame = JSON.parse(new TextDecoder().decode(raw)) as { t?: string; n?: number }
    if (frame.t === 'ping') await channel.write(new TextEncoder().encode(JSON.stringify({ t: 'ack', n: frame.n, me: { incarnation: 0, startedAt: 1 } })))
  }), { maxFrameBytes: MAX_PROBE_FRAME_BYTES, timeoutMs: 5000, idleMs: 60_000, maxStreams: 16 })
}

/**
 * startRawPeer makes a bare libp2p node (no gossipsub) holding the cluster key, to speak
 * the gossipsub wire protocol by hand in flood tests.
 */
export async function startRawPeer(pskFile: string, dir: string): Promise<import('libp2p').Libp2p> {
  const [{ createLibp2p }, { tcp }, { noise }, { yamux }, { preSharedKey }, { identify }] = await Promise.all([
    import('libp2p'),
    import('@libp2p/tcp'),
    import('@chainsafe/libp2p-noise'),
    import('@chainsafe/libp2p-yamux'),
    import('@libp2p/pnet'),
    import('@libp2p/identify'),
  ])
  const { psk } = await loadClusterKey(pskFile, false)
  const { key } = await loadOrCreatePeerKey(`${dir}/raw-peer.key`)
  return createLibp2p({
    privateKey: key,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: preSharedKey({ psk }),
    services: { identify: identify() },
  })
}
