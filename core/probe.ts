// Readiness probes: a template's readinessProbe normalised into the check an agent runs
// (exec in the container, an HTTP GET or a TCP connect to the pod), with Kubernetes'
// defaults. The check travels as a container label, so a copy carries its own probe even
// after its template was replaced. No I/O here.

import { z } from 'zod'
import type { FieldIssue } from './errors.js'
import { joinPath } from './path.js'
import type { Container, Probe } from './types.js'

/** ReadinessCheck is one container's probe, ready to run. Ports are resolved to numbers. */
export const readinessCheckSchema = z
  .object({
    exec: z.array(z.string()).min(1).optional(),
    http: z.object({ scheme: z.enum(['http', 'https']), host: z.string().optional(), port: z.number().int().min(1).max(65535), path: z.string() }).strict().optional(),
    tcp: z.object({ host: z.string().optional(), port: z.number().int().min(1).max(65535) }).strict().optional(),
    initialDelaySeconds: z.number().int().min(0),
    periodSeconds: z.number().int().min(1),
    timeoutSeconds: z.number().int().min(1),
    successThreshold: z.number().int().min(1),
    failureThreshold: z.number().int().min(1),
  })
  .strict()

export type ReadinessCheck = z.infer<typeof readinessCheckSchema>

function port(p: number | string, containers: readonly Container[], path: string, issues: FieldIssue[]): number {
  if (typeof p === 'number') return p
  if (/^[0-9]+$/.test(p)) return Number(p)
  for (const c of containers) for (const cp of c.ports ?? []) if (cp.name === p) return cp.containerPort
  issues.push({ path, message: `no container port named "${p}"` })
  return 0
}

/**
 * readinessCheckOf normalises a readinessProbe (defaults: period 10 s, timeout 1 s,
 * success 1, failure 3, as Kubernetes). `containers` are the pod's, to resolve named ports.
 * Returns the check, or the problems with their paths (grpc is not supported).
 */
export function readinessCheckOf(probe: Probe, containers: readonly Container[], path: string): { check?: ReadinessCheck; issues: FieldIssue[] } {
  const issues: FieldIssue[] = []
  const base = {
    initialDelaySeconds: probe.initialDelaySeconds ?? 0,
    periodSeconds: probe.periodSeconds ?? 10,
    timeoutSeconds: probe.timeoutSeconds ?? 1,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  }
  let check: ReadinessCheck | undefined
  if (probe.exec !== undefined) check = { ...base, exec: probe.exec.command }
  else if (probe.httpGet !== undefined) {
    const g = probe.httpGet
    const scheme = (g.scheme ?? 'HTTP').toLowerCase()
    if (scheme !== 'http' && scheme !== 'https') issues.push({ path: joinPath(path, 'httpGet', 'scheme'), message: 'must be HTTP or HTTPS' })
    check = { ...base, http: { scheme: scheme === 'https' ? 'https' : 'http', ...(g.host === undefined ? {} : { host: g.host }), port: port(g.port, containers, joinPath(path, 'httpGet', 'port'), issues), path: g.path ?? '/' } }
  } else if (probe.tcpSocket !== undefined) {
    const t = probe.tcpSocket
    check = { ...base, tcp: { ...(t.host === undefined ? {} : { host: t.host }), port: port(t.port, containers, joinPath(path, 'tcpSocket', 'port'), issues) } }
  } else {
    issues.push({ path, message: 'needs exec, httpGet or tcpSocket (grpc is not supported)' })
  }
  return issues.length > 0 ? { issues } : { check: readinessCheckSchema.parse(check), issues }
}

/** parseReadinessCheck reads a check back from a container label; undefined when absent or malformed. */
export function parseReadinessCheck(label: string | undefined): ReadinessCheck | undefined {
  if (label === undefined || label === '') return undefined
  try {
    const r = readinessCheckSchema.safeParse(JSON.parse(label))
    return r.success ? r.data : undefined
  } catch {
    return undefined
  }
}
