// What an agent announces of its addresses, and which it refuses to dial as its own.

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import { OwnAddresses } from '../../../../agent/network/own-addresses.js'

const ID = '12D3KooWBfBvS8HFkTbQfD6Va4RrAPsLEFhhahq8bs9mTiAiQbNV'
const mas = (...a: string[]): ReturnType<typeof multiaddr>[] => a.map((x) => multiaddr(x))
const text = (a: ReturnType<typeof multiaddr>[]): string[] => a.map((m) => m.toString())

describe('own addresses', () => {
  it('loopback addresses are not announced beside others', () => {
    const own = new OwnAddresses()
    const out = own.announce(mas(`/ip4/127.0.0.1/tcp/7946/p2p/${ID}`, `/ip4/10.80.0.11/tcp/7946/p2p/${ID}`, `/ip6/::1/tcp/7946/p2p/${ID}`, `/ip4/172.17.0.1/tcp/7946/p2p/${ID}`))
    assert.deepEqual(text(out), [`/ip4/10.80.0.11/tcp/7946/p2p/${ID}`, `/ip4/172.17.0.1/tcp/7946/p2p/${ID}`])
  })

  it('an agent with loopback addresses only announces them (agents on one machine)', () => {
    const own = new OwnAddresses()
    const out = own.announce(mas(`/ip4/127.0.0.1/tcp/40001/p2p/${ID}`))
    assert.deepEqual(text(out), [`/ip4/127.0.0.1/tcp/40001/p2p/${ID}`])
  })

  it('while only loopback is left (the links are down), the addresses announced before are announced still, and are ours', () => {
    const own = new OwnAddresses()
    const up = mas(`/ip4/127.0.0.1/tcp/7946/p2p/${ID}`, `/ip4/10.80.0.11/tcp/7946/p2p/${ID}`)
    own.announce(up)
    assert.deepEqual(text(own.announce(mas(`/ip4/127.0.0.1/tcp/7946/p2p/${ID}`))), [`/ip4/10.80.0.11/tcp/7946/p2p/${ID}`])
    assert.equal(own.isOwn(multiaddr('/ip4/10.80.0.11/tcp/7946')), true)
    assert.equal(own.isOwn(multiaddr('/ip4/127.0.0.1/tcp/7946')), true)
    // The link is back with another address (DHCP): that one, and only it, from now on.
    assert.deepEqual(text(own.announce(mas(`/ip4/127.0.0.1/tcp/7946/p2p/${ID}`, `/ip4/10.80.0.42/tcp/7946/p2p/${ID}`))), [`/ip4/10.80.0.42/tcp/7946/p2p/${ID}`])
    assert.equal(own.isOwn(multiaddr('/ip4/10.80.0.11/tcp/7946')), false)
  })

  it('an address with our IP and port is ours, announced or not; another port or host is not', () => {
    const own = new OwnAddresses()
    own.announce(mas(`/ip4/127.0.0.1/tcp/7946/p2p/${ID}`, `/ip4/10.80.0.11/tcp/7946/p2p/${ID}`, `/ip4/172.17.0.1/tcp/7946/p2p/${ID}`))
    const peer = '12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo'
    assert.equal(own.isOwn(multiaddr(`/ip4/127.0.0.1/tcp/7946/p2p/${peer}`)), true, "a peer's loopback address is ours")
    assert.equal(own.isOwn(multiaddr(`/ip4/172.17.0.1/tcp/7946/p2p/${peer}`)), true, 'so is a bridge address every host shares')
    assert.equal(own.isOwn(multiaddr('/ip4/10.80.0.11/tcp/7946')), true)
    assert.equal(own.isOwn(multiaddr(`/ip4/10.80.0.12/tcp/7946/p2p/${peer}`)), false)
    assert.equal(own.isOwn(multiaddr(`/ip4/127.0.0.1/tcp/7947/p2p/${peer}`)), false, 'another agent on this machine')
    assert.equal(own.isOwn(multiaddr('/dns4/example.org/tcp/7946')), false)
  })

  it('nothing is ours before libp2p has told us our addresses', () => {
    assert.equal(new OwnAddresses().isOwn(multiaddr('/ip4/127.0.0.1/tcp/7946')), false)
  })
})
