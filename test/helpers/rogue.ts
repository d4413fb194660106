// A rogue peer for security tests: a real libp2p node that holds the cluster key but is
// not trusted for anything. Tests only.

import { pino } from 'pino'
import { loadClusterKey, loadOrCreatePeerKey, nodeSigningKey, keyIdOfPeerPublicKey } from '../../agent/network/keys.js'
import { defaultTimings } from '../../agent/defaults.js'
import { Topics } from '../../agent/network/constants.js'
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
