// The node's address, as Kubernetes' `status.hostIP` gives it to a pod: one IP that a
// user of the host expects (not a Docker bridge, not loopback when anything else exists).
// The agent gathers the facts (its configuration, the kernel's default route and
// interfaces); the choice is made here, pure and table-tested. No I/O here.

/** HostFacts is what the choice of a host IP is made from. */
export interface HostFacts {
  /** The configured address (`nodeIP`, kubelet's `--node-ip`); always wins. */
  configured?: string
  /** The agent's listen multiaddrs (`/ip4/10.0.0.5/tcp/7946`). */
  listen: readonly string[]
  /** The interface of the IPv4 default route, when there is one. */
  defaultInterface?: string
  /** The host's interfaces and their addresses (os.networkInterfaces() shape). */
  interfaces: Readonly<Record<string, readonly { address: string; family: string; internal: boolean }[] | undefined>>
}

/** ipOfMultiaddr returns the IP of a `/ip4/...` or `/ip6/...` multiaddr, or undefined. */
export function ipOfMultiaddr(addr: string): string | undefined {
  return /^\/ip[46]\/([^/]+)/.exec(addr)?.[1]
}

const isLoopback = (ip: string): boolean => ip.startsWith('127.') || ip === '::1'
const isWildcard = (ip: string): boolean => ip === '0.0.0.0' || ip === '::'

/**
 * chooseHostIP returns the host IP of a node, the first of:
 *  1. the configured address;
 *  2. the first listen address bound to one IP that is not loopback (the agent was told
 *     where the host is reached);
 *  3. the first IPv4 of the default route's interface (kubelet's choice without
 *     `--node-ip`: the address traffic leaves by);
 *  4. the first non-internal IPv4 of any interface, then the first non-internal IPv6;
 *  5. the first listen IP (a loopback-only agent is reached on loopback), else 127.0.0.1.
 */
export function chooseHostIP(facts: HostFacts): string {
  if (facts.configured !== undefined && facts.configured !== '') return facts.configured
  const listen = facts.listen.map(ipOfMultiaddr).filter((ip): ip is string => ip !== undefined)
  const bound = listen.find((ip) => !isLoopback(ip) && !isWildcard(ip))
  if (bound !== undefined) return bound
  const v4 = (name: string): string | undefined => facts.interfaces[name]?.find((a) => a.family === 'IPv4' && !a.internal)?.address
  const viaRoute = facts.defaultInterface === undefined ? undefined : v4(facts.defaultInterface)
  if (viaRoute !== undefined) return viaRoute
  const all = Object.values(facts.interfaces).flatMap((list) => list ?? []).filter((a) => !a.internal)
  const any = all.find((a) => a.family === 'IPv4') ?? all.find((a) => a.family === 'IPv6')
  if (any !== undefined) return any.address
  return listen.find((ip) => !isWildcard(ip)) ?? '127.0.0.1'
}

/**
 * defaultRouteInterface reads the text of /proc/net/route and returns the interface of the
 * IPv4 default route (destination 0.0.0.0, mask 0) with the lowest metric, or undefined.
 */
export function defaultRouteInterface(procNetRoute: string): string | undefined {
  let best: { iface: string; metric: number } | undefined
  for (const line of procNetRoute.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    const [iface, dest, , flags, , , metric, mask] = f
    if (iface === undefined || dest !== '00000000' || mask !== '00000000') continue
    // RTF_UP (0x1): the route is usable.
    if ((Number.parseInt(flags ?? '0', 16) & 1) === 0) continue
    const m = Number.parseInt(metric ?? '0', 10)
    if (best === undefined || m < best.metric) best = { iface, metric: m }
  }
  return best?.iface
}
