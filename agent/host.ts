// What the agent tells its pods about the host: its address (`status.hostIP`, chosen by
// core/host-ip.ts from the configuration, the default route and the interfaces) and its
// capacity (the downward API's limits when a container sets none). Read once at start.

import { readFile } from 'node:fs/promises'
import { cpus, networkInterfaces, totalmem } from 'node:os'
import { chooseHostIP, defaultRouteInterface } from '../core/host-ip.js'

/** HostInfo is the part of this node's record that describes the host to its pods. */
export interface HostInfo {
  hostIP: string
  capacity: { cpu: number; memory: number }
}

/** readHostInfo chooses the host IP (configured, else from `listen` and the kernel's routes) and reads cores and memory. */
export async function readHostInfo(listen: readonly string[], configured: string | undefined): Promise<HostInfo> {
  // No /proc/net/route (not Linux, or hidden): the interfaces alone decide.
  const routes = await readFile('/proc/net/route', 'utf8').catch(() => '')
  const iface = defaultRouteInterface(routes)
  const hostIP = chooseHostIP({
    ...(configured === undefined ? {} : { configured }),
    listen,
    ...(iface === undefined ? {} : { defaultInterface: iface }),
    interfaces: networkInterfaces(),
  })
  return { hostIP, capacity: { cpu: Math.max(1, cpus().length), memory: totalmem() } }
}
