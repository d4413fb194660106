// Probes: a template's readiness, liveness or startup probe normalised into the check an
// agent runs (exec in the container, an HTTP GET with headers, a TCP connect, or a gRPC
// health check to the pod), with Kubernetes' defaults; and the lifecycle hooks (postStart,
// preStop) normalised the same way. Checks and hooks travel as container labels, so a copy
// carries its own probes and hooks even after its template was replaced. No I/O here.

import { z } from 'zod'
import type { FieldIssue } from './errors.js'
import { joinPath } from './path.js'
import type { Container, Probe } from './types.js'

const portNumber = z.number().int().min(1).max(65535)
const header = z.object({ name: z.string().min(1).max(256), value: z.string().max(4096) }).strict()

/** The action part of a probe or a hook: exactly one of these is set. */
const handlerShape = {
  exec: z.array(z.string().max(4096)).min(1).max(256).optional(),
  http: z.object({ scheme: z.enum(['http', 'https']), host: z.string().max(253).optional(), port: portNumber, path: z.string().max(2048), headers: z.array(header).max(32).optional() }).strict().optional(),
  tcp: z.object({ host: z.string().max(253).optional(), port: portNumber }).strict().optional(),
  grpc: z.object({ port: portNumber, service: z.string().max(256).optional() }).strict().optional(),
}

/** ProbeCheck is one container's probe, ready to run. Ports are resolved to numbers. */
export const probeCheckSchema = z
  .object({
    ...handlerShape,
    initialDelaySeconds: z.number().int().min(0),
    periodSeconds: z.number().int().min(1),
    timeoutSeconds: z.number().int().min(1),
    successThreshold: z.number().int().min(1),
    failureThreshold: z.number().int().min(1),
  })
  .strict()

export type ProbeCheck = z.infer<typeof probeCheckSchema>
/** The readiness check is a probe check (the name it had before liveness and startup). */
export const readinessCheckSchema = probeCheckSchema
export type ReadinessCheck = ProbeCheck

/** ProbeKind names the three probes, as Kubernetes' events do. */
export type ProbeKind = 'readiness' | 'liveness' | 'startup'

/** Hook is one lifecycle handler (exec or httpGet), ready to run. */
export const hookSchema = z.object({ exec: handlerShape.exec, http: handlerShape.http }).strict()
export type Hook = z.infer<typeof hookSchema>

/** Hooks are a container's lifecycle hooks, as its label carries them. */
export const hooksSchema = z.object({ postStart: hookSchema.optional(), preStop: hookSchema.optional() }).strict()
export type Hooks = z.infer<typeof hooksSchema>

function port(p: number | string, containers: readonly Container[], path: string, issues: FieldIssue[]): number {
  if (typeof p === 'number') return p
  if (/^[0-9]+$/.test(p)) return Number(p)
  for (const c of containers) for (const cp of c.ports ?? []) if (cp.name === p) return cp.containerPort
  issues.push({ path, message: `no container port named "${p}"` })
  return 0
}

interface HttpGetSource {
  path?: string
  port: number | string
  host?: string
  scheme?: string
  httpHeaders?: unknown
}

function httpOf(g: HttpGetSource, containers: readonly Container[], path: string, issues: FieldIssue[]): NonNullable<ProbeCheck['http']> {
  const scheme = (g.scheme ?? 'HTTP').toLowerCase()
  if (scheme !== 'http' && scheme !== 'https') issues.push({ path: joinPath(path, 'httpGet', 'scheme'), message: 'must be HTTP or HTTPS' })
  const headers: { name: string; value: string }[] = []
  if (g.httpHeaders !== undefined) {
    const h = z.array(z.object({ name: z.string().min(1), value: z.string() }).strict()).safeParse(g.httpHeaders)
    if (!h.success) issues.push({ path: joinPath(path, 'httpGet', 'httpHeaders'), message: 'must be a list of {name, value}' })
    else headers.push(...h.data)
  }
  return {
    scheme: scheme === 'https' ? 'https' : 'http',
    ...(g.host === undefined ? {} : { host: g.host }),
    port: port(g.port, containers, joinPath(path, 'httpGet', 'port'), issues),
    path: g.path ?? '/',
    ...(headers.length === 0 ? {} : { headers }),
  }
}

/**
 * probeCheckOf normalises a probe (defaults: period 10 s, timeout 1 s, success 1, failure 3,
 * as Kubernetes). `containers` are the pod's, to resolve named ports. A liveness or startup
 * probe must have successThreshold 1, as Kubernetes requires. Returns the check, or the
 * problems with their paths.
 */
export function probeCheckOf(probe: Probe, containers: readonly Container[], path: string, kind: ProbeKind = 'readiness'): { check?: ProbeCheck; issues: FieldIssue[] } {
  const issues: FieldIssue[] = []
  const base = {
    initialDelaySeconds: probe.initialDelaySeconds ?? 0,
    periodSeconds: probe.periodSeconds ?? 10,
    timeoutSeconds: probe.timeoutSeconds ?? 1,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  }
  if (kind !== 'readiness' && base.successThreshold !== 1) issues.push({ path: joinPath(path, 'successThreshold'), message: `Invalid value: ${base.successThreshold}: must be 1` })
  let check: ProbeCheck | undefined
  if (probe.exec !== undefined) check = { ...base, exec: probe.exec.command }
  else if (probe.httpGet !== undefined) check = { ...base, http: httpOf(probe.httpGet, containers, path, issues) }
  else if (probe.tcpSocket !== undefined) {
    const t = probe.tcpSocket
    check = { ...base, tcp: { ...(t.host === undefined ? {} : { host: t.host }), port: port(t.port, containers, joinPath(path, 'tcpSocket', 'port'), issues) } }
  } else if (probe.grpc !== undefined) {
    const g = z.object({ port: z.number().int(), service: z.string().optional() }).strict().safeParse(probe.grpc)
    if (!g.success) issues.push({ path: joinPath(path, 'grpc'), message: 'must be {port: number, service?: string}' })
    else check = { ...base, grpc: { port: g.data.port, ...(g.data.service === undefined || g.data.service === '' ? {} : { service: g.data.service }) } }
  } else {
    issues.push({ path, message: 'needs exec, httpGet, tcpSocket or grpc' })
  }
  if (issues.length > 0) return { issues }
  const r = probeCheckSchema.safeParse(check)
  return r.success ? { check: r.data, issues } : { issues: r.error.issues.map((i) => ({ path: joinPath(path, ...i.path.map(String)), message: i.message })) }
}

/** readinessCheckOf normalises a readinessProbe (probeCheckOf). */
export function readinessCheckOf(probe: Probe, containers: readonly Container[], path: string): { check?: ReadinessCheck; issues: FieldIssue[] } {
  return probeCheckOf(probe, containers, path, 'readiness')
}

/**
 * hooksOf normalises a container's lifecycle (postStart, preStop; exec or httpGet each, as
 * the kubelet runs them; tcpSocket is deprecated there and not run here, sleep is not
 * supported). Returns the hooks (undefined when none) or the problems with their paths.
 */
export function hooksOf(lifecycle: unknown, containers: readonly Container[], path: string): { hooks?: Hooks; issues: FieldIssue[] } {
  const issues: FieldIssue[] = []
  if (lifecycle === undefined || lifecycle === null) return { issues }
  if (typeof lifecycle !== 'object') return { issues: [{ path, message: 'must be an object' }] }
  const hooks: Hooks = {}
  for (const [name, h] of Object.entries(lifecycle as Record<string, unknown>)) {
    const p = joinPath(path, name)
    if (name !== 'postStart' && name !== 'preStop') {
      issues.push({ path: p, message: 'not supported (ignored)' })
      continue
    }
    const handler = h as { exec?: { command?: unknown }; httpGet?: HttpGetSource; [k: string]: unknown } | undefined
    if (handler?.exec !== undefined) {
      const cmd = z.array(z.string()).min(1).safeParse(handler.exec.command)
      if (!cmd.success) issues.push({ path: joinPath(p, 'exec', 'command'), message: 'must be a non-empty list of strings' })
      else hooks[name] = { exec: cmd.data }
    } else if (handler?.httpGet !== undefined) {
      hooks[name] = { http: httpOf(handler.httpGet, containers, p, issues) }
    } else {
      issues.push({ path: p, message: 'needs exec or httpGet (tcpSocket and sleep are not supported)' })
    }
  }
  if (issues.length > 0) return { issues }
  if (hooks.postStart === undefined && hooks.preStop === undefined) return { issues }
  const r = hooksSchema.safeParse(hooks)
  return r.success ? { hooks: r.data, issues } : { issues: r.error.issues.map((i) => ({ path: joinPath(path, ...i.path.map(String)), message: i.message })) }
}

/** parseProbeCheck reads a check back from a container label; undefined when absent or malformed. */
export function parseProbeCheck(label: string | undefined): ProbeCheck | undefined {
  return parseLabel(label, probeCheckSchema)
}

/** parseReadinessCheck reads a readiness check back from its label (parseProbeCheck). */
export const parseReadinessCheck = parseProbeCheck

/** parseHooks reads a container's hooks back from its label; undefined when absent or malformed. */
export function parseHooks(label: string | undefined): Hooks | undefined {
  return parseLabel(label, hooksSchema)
}

function parseLabel<T>(label: string | undefined, schema: z.ZodType<T>): T | undefined {
  if (label === undefined || label === '' || label.length > 64 * 1024) return undefined
  try {
    const r = schema.safeParse(JSON.parse(label))
    return r.success ? r.data : undefined
  } catch {
    return undefined
  }
}
