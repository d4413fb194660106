// Hosts as network namespaces joined by a bridge, for e2e tests. Everything made here is
// torn down by `destroy` (also on failure). Needs root and iproute2. Tests only.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { prerequisite } from './prereq.js'

const run = promisify(execFile)

/** ip runs `ip ARGS`; throws with stderr on failure. */
export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args)
  return stdout
}

/** iptables runs `iptables ARGS` when iptables exists (no firewall, nothing to open). */
async function iptables(...args: string[]): Promise<void> {
  try {
    await run('iptables', ['-w', ...args])
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/** requireHostTools fails when root or iproute2 is missing under CI=true; elsewhere returns why to skip. */
export async function requireHostTools(): Promise<string | undefined> {
  return prerequisite('e2e needs root and iproute2', async () => {
    if (process.getuid?.() !== 0) throw new Error('not root')
    await run('ip', ['-V'])
  })
}

export interface Host {
  name: string
  ns: string
  address: string
}

/** Fabric is one bridge and its namespaces. Names carry a short random tag so runs never clash. */
export class Fabric {
  readonly tag = Math.random().toString(36).slice(2, 6)
  readonly bridge = `dmbr${this.tag}`
  readonly hosts: Host[] = []
  private readonly subnet: number

  constructor(subnet = 77) {
    this.subnet = subnet
  }

  async up(): Promise<void> {
    await ip('link', 'add', this.bridge, 'type', 'bridge')
    await ip('link', 'set', this.bridge, 'up')
    // Once a dockerd has run, FORWARD drops bridged traffic: let ours through.
    await iptables('-I', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT')
  }

  /** addHost makes namespace `dm-TAG-NAME` with eth0 on the bridge at 10.SUBNET.0.(index+10). */
  async addHost(name: string): Promise<Host> {
    const ns = `dm-${this.tag}-${name}`
    const index = this.hosts.length + 10
    const veth = `dv${this.tag}${this.hosts.length}`
    const address = `10.${this.subnet}.0.${index}`
    await ip('netns', 'add', ns)
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
    await ip('link', 'set', veth, 'master', this.bridge, 'up')
    await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
    await ip('-n', ns, 'link', 'set', 'eth0', 'up')
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
    await ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
    const host = { name, ns, address }
    this.hosts.push(host)
    return host
  }

  /** cut takes a host's link down (a partition); heal brings it back. */
  async cut(host: Host): Promise<void> {
    await ip('-n', host.ns, 'link', 'set', 'eth0', 'down')
  }

  async heal(host: Host): Promise<void> {
    await ip('-n', host.ns, 'link', 'set', 'eth0', 'up')
    await ip('-n', host.ns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0')
  }

  /** destroy removes every namespace and the bridge; never throws. */
  async destroy(): Promise<void> {
    for (const h of this.hosts) await ip('netns', 'del', h.ns).catch(() => undefined)
    await iptables('-D', 'FORWARD', '-i', this.bridge, '-o', this.bridge, '-j', 'ACCEPT').catch(() => undefined)
    await ip('link', 'del', this.bridge).catch(() => undefined)
  }
}
