// Host and port text as operators write them (API and metrics addresses), pure: shared by
// the agent's configuration and the CLI.

import { isIP } from 'node:net'

/** isLoopback says whether a URL host name is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'))
}

/** splitHostPort reads `HOST:PORT` or `[V6]:PORT`; a malformed address gives an empty host or a NaN port. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):([0-9]{1,5})$/.exec(addr)
  return { host: m?.[1] ?? m?.[2] ?? '', port: Number(m?.[3] ?? NaN) }
}
