import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { chooseHostIP, defaultRouteInterface, type HostFacts } from '../../../core/host-ip.js'

const lo = [{ address: '127.0.0.1', family: 'IPv4', internal: true }]
const eth0 = [{ address: '10.0.0.5', family: 'IPv4', internal: false }, { address: 'fe80::1', family: 'IPv6', internal: false }]
const docker0 = [{ address: '172.17.0.1', family: 'IPv4', internal: false }]

describe('the host IP', () => {
  const cases: [string, HostFacts, string][] = [
    ['a configured address wins', { configured: '192.168.1.9', listen: ['/ip4/10.0.0.7/tcp/7946'], defaultInterface: 'eth0', interfaces: { lo, eth0 } }, '192.168.1.9'],
    ['a listen address bound to one IP comes next', { listen: ['/ip4/10.0.0.7/tcp/7946'], defaultInterface: 'eth0', interfaces: { lo, eth0 } }, '10.0.0.7'],
    ['on a wildcard listen address, the default route\'s interface, not the Docker bridge listed first', { listen: ['/ip4/0.0.0.0/tcp/7946'], defaultInterface: 'eth0', interfaces: { lo, docker0, eth0 } }, '10.0.0.5'],
    ['a loopback listen address does not hide the host\'s address', { listen: ['/ip4/127.0.0.1/tcp/0'], defaultInterface: 'eth0', interfaces: { lo, eth0 } }, '10.0.0.5'],
    ['no default route: the first non-internal IPv4', { listen: ['/ip4/0.0.0.0/tcp/7946'], interfaces: { lo, eth0 } }, '10.0.0.5'],
    ['only loopback: the listen address', { listen: ['/ip4/127.0.0.1/tcp/0'], interfaces: { lo } }, '127.0.0.1'],
    ['nothing at all: 127.0.0.1', { listen: ['/ip4/0.0.0.0/tcp/0'], interfaces: {} }, '127.0.0.1'],
  ]
  for (const [name, facts, want] of cases) it(name, () => assert.equal(chooseHostIP(facts), want))

  it('defaultRouteInterface reads /proc/net/route: the usable default route with the lowest metric', () => {
    const table = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0',
      'eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0',
    ].join('\n')
    assert.equal(defaultRouteInterface(table), 'eth0')
    assert.equal(defaultRouteInterface(table.split('\n').filter((l) => !l.includes('\t00000000\t0')).join('\n')), undefined)
  })
})
