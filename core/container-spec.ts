// Pod template -> plain Docker Engine "container create" bodies, one per container, for
// one node. No Docker import and no I/O here: the runtime adapter sends these as they are.
// A field we cannot honour is reported in `unsupported`, never silently dropped.

import { fieldValue, podUid, resourceValue } from './downward-api.js'
import type { FieldIssue } from './errors.js'
import { refOf } from './keyspace.js'
import { joinPath } from './path.js'
import { hooksOf, probeCheckOf } from './probe.js'
import { parseQuantity } from './quantity.js'
import { revisionOf } from './revision.js'
import { pullAuthFor, type PullAuth } from './registry-auth.js'
import { DOCKER_CONFIG_JSON } from './secret.js'
import type { Container, DaemonSet, EnvVar, NodeInfo, PodSpec } from './types.js'
import { NO_OBJECTS, configMapOf, mountsOf, secretOf, podVolumesOf, type DockerMount, type PodObjects, type PodVolume, type VolumeContext } from './volumes.js'

/** Labels every managed container carries; the reconciler finds its containers by them. */
export const Labels = {
  daemonSet: 'daemonmesh.io/daemonset',
  node: 'daemonmesh.io/node',
  revision: 'daemonmesh.io/revision',
  container: 'daemonmesh.io/container',
  /** The container that owns the pod's network namespace (the first one). */
  podOwner: 'daemonmesh.io/pod-owner',
  /** The container's readiness check (core/probe.ts), JSON; absent when it has none. */
  readiness: 'daemonmesh.io/readiness',
  /** Its liveness and startup checks, and its lifecycle hooks (core/probe.ts), JSON; absent when it has none. */
  liveness: 'daemonmesh.io/liveness',
  startup: 'daemonmesh.io/startup',
  hooks: 'daemonmesh.io/hooks',
  /** An init container's copy (DaemonSet label form): init containers carry this instead of the daemonset label. */
  initOf: 'daemonmesh.io/init-of',
  /** The pod (PodPlan.pod) a container or a Docker volume belongs to: its volumes go when its last container goes. */
  pod: 'daemonmesh.io/pod',
} as const

/** The subset of Docker's HostConfig we set. */
export interface DockerHostConfig {
  Mounts?: DockerMount[]
  PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>
  NetworkMode?: string
  PidMode?: string
  IpcMode?: string
  Privileged?: boolean
  CapAdd?: string[]
  CapDrop?: string[]
  Memory?: number
  MemoryReservation?: number
  NanoCpus?: number
  CpuShares?: number
  ReadonlyRootfs?: boolean
  SecurityOpt?: string[]
  ExtraHosts?: string[]
  Dns?: string[]
  DnsSearch?: string[]
  DnsOptions?: string[]
  RestartPolicy: { Name: 'always' | 'no' }
}

/** DockerCreate is a Docker Engine API container-create body plus the container name. */
export interface DockerCreate {
  name: string
  Image: string
  Entrypoint?: string[]
  Cmd?: string[]
  Env: string[]
  WorkingDir?: string
  User?: string
  Tty?: boolean
  OpenStdin?: boolean
  Hostname?: string
  Labels: Record<string, string>
  ExposedPorts?: Record<string, Record<string, never>>
  StopTimeout: number
  HostConfig: DockerHostConfig
}

/** PodPlan is everything needed to start one daemon pod on one node. */
export interface PodPlan {
  /** `NAMESPACE.NAME`, the value of the daemonset label. */
  daemonSet: string
  node: string
  revision: string
  /** The pod's own name on this host (`dm_NS_NAME_REVISION_NODE`): its directory, its volumes' prefix, the pod label. */
  pod: string
  /** The pod's `metadata.uid` (core/downward-api.ts podUid). */
  uid: string
  /** One entry per container, in template order; the first owns the network namespace. */
  containers: { name: string; pullPolicy: 'Always' | 'IfNotPresent' | 'Never'; create: DockerCreate; pullAuth?: PullAuth }[]
  /** The init containers, in order: each runs to completion (exit 0) before the next, and all before the containers, when the pod starts. */
  init: { name: string; pullPolicy: 'Always' | 'IfNotPresent' | 'Never'; create: DockerCreate; pullAuth?: PullAuth }[]
  /** What the runtime makes before the containers, in the order of spec.volumes (mounted ones only). */
  volumes: PodVolume[]
  /** Fields of the template that this plan does not honour, with their paths. */
  unsupported: FieldIssue[]
  /**
   * Objects the pod needs that do not exist (`configmap "x" not found`): the runtime starts
   * nothing while any is missing, as kubelet holds such a pod back.
   */
  missing: string[]
}

/** Pod fields that the plan does not honour when set. */
const UNSUPPORTED_POD_FIELDS = [
  'ephemeralContainers', 'priority',
  'priorityClassName', 'preemptionPolicy', 'runtimeClassName', 'schedulerName', 'topologySpreadConstraints',
  'readinessGates', 'overhead', 'os', 'resourceClaims', 'resources', 'activeDeadlineSeconds', 'schedulingGates',
  'subdomain', 'setHostnameAsFQDN', 'hostUsers',
]
const UNSUPPORTED_CONTAINER_FIELDS = ['resizePolicy', 'restartPolicy', 'volumeDevices', 'stdinOnce']
const UNSUPPORTED_SECURITY_FIELDS = ['runAsNonRoot', 'procMount', 'seLinuxOptions', 'appArmorProfile', 'windowsOptions']

/** dockerName returns the deterministic container name for (DaemonSet, container, revision, node). */
export function dockerName(ds: DaemonSet, container: string, revision: string, node: string): string {
  return `dm_${ds.metadata.namespace ?? 'default'}_${ds.metadata.name}_${container}_${revision}_${node}`
}

/** initName returns the deterministic name of an init container (its own prefix: it cannot collide with a container's). */
export function initName(ds: DaemonSet, container: string, revision: string, node: string): string {
  return `dmi_${ds.metadata.namespace ?? 'default'}_${ds.metadata.name}_${container}_${revision}_${node}`
}

/** podKey returns the pod's own name on its host (PodPlan.pod): one per DaemonSet, revision and node. */
export function podKey(ds: DaemonSet, revision: string, node: string): string {
  return `dm_${ds.metadata.namespace ?? 'default'}_${ds.metadata.name}_${revision}_${node}`
}

/** podName is the name a pod of this DaemonSet has on `node`, as `kubectl get pods` would show it. */
export function podName(ds: DaemonSet, node: string): string {
  return `${ds.metadata.name}-${node}`
}

/**
 * expandVars replaces `$(NAME)` with the value of NAME when `lookup` knows it, as
 * Kubernetes does for env values, command and args; `$$` escapes a `$`.
 */
export function expandVars(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(/\$\$|\$\(([^)$]*)\)/g, (match, name: string | undefined) => {
    if (match === '$$') return '$'
    const v = name === undefined ? undefined : lookup(name)
    return v ?? match
  })
}

type Context = VolumeContext

const ENV_SOURCES = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef']

/** An env name kubelet sets: printable ASCII, no '=' (the rule validation applies to env names). */
const ENV_NAME = /^[\x20-\x3c\x3e-\x7e]+$/

function envOf(ctx: Context, c: Container, path: string): Map<string, string> {
  const env = new Map<string, string>()
  // envFrom first: env entries of the same name win, as in Kubernetes.
  ;(c.envFrom ?? []).forEach((f, i) => {
    const set = (k: string, v: string): void => {
      const name = `${f.prefix ?? ''}${k}`
      if (ENV_NAME.test(name)) env.set(name, v)
    }
    if (f.secretRef !== undefined) for (const [k, v] of secretOf(ctx, f.secretRef.name, f.secretRef.optional) ?? []) set(k, v.toString('utf8'))
    if (f.configMapRef === undefined) return
    const cm = configMapOf(ctx, f.configMapRef.name, f.configMapRef.optional)
    for (const [k, v] of Object.entries(cm?.data ?? {})) set(k, v)
  })
  ;(c.env ?? []).forEach((e: EnvVar, i) => {
    const from = e.valueFrom
    if (from?.configMapKeyRef !== undefined) {
      const ref = from.configMapKeyRef
      const cm = configMapOf(ctx, ref.name, ref.optional)
      const v = cm?.data?.[ref.key]
      if (v !== undefined) env.set(e.name, v)
      else if (cm !== undefined && ref.optional !== true) ctx.missing.push(`couldn't find key ${ref.key} in ConfigMap ${cm.metadata.namespace}/${cm.metadata.name}`)
      return
    }
    if (from?.secretKeyRef !== undefined) {
      const ref = from.secretKeyRef
      const data = secretOf(ctx, ref.name, ref.optional)
      const v = data?.get(ref.key)
      if (v !== undefined) env.set(e.name, v.toString('utf8'))
      else if (data !== undefined && ref.optional !== true) ctx.missing.push(`couldn't find key ${ref.key} in Secret ${ctx.ds.metadata.namespace ?? 'default'}/${ref.name}`)
      return
    }
    if (from !== undefined) {
      const at = joinPath(path, 'env', i, 'valueFrom')
      const r =
        from.fieldRef !== undefined
          ? fieldValue(ctx, from.fieldRef.fieldPath, 'env')
          : from.resourceFieldRef !== undefined
            ? resourceValue(ctx, from.resourceFieldRef, from.resourceFieldRef.containerName === undefined || from.resourceFieldRef.containerName === '' ? c : ctx.ds.spec.template.spec.containers.find((x) => x.name === from.resourceFieldRef?.containerName))
            : undefined
      const source = Object.keys(from).find((k) => from[k] !== undefined) ?? 'valueFrom'
      if (r === undefined) ctx.unsupported.push({ path: joinPath(at, source), message: `not supported: only ${ENV_SOURCES.join(' and ')} are resolved` })
      else if (r.value === undefined) ctx.unsupported.push({ path: joinPath(at, source), message: r.why })
      else env.set(e.name, r.value)
      return
    }
    env.set(e.name, expandVars(e.value ?? '', (n) => env.get(n)))
  })
  return env
}

/**
 * pullSecretConfigs returns the docker configs of the pod's imagePullSecrets, in order. As
 * kubelet, a pull secret that is absent, cannot be opened here or is of another type is
 * passed over (the pull goes on without it) and said as a warning.
 */
function pullSecretConfigs(ctx: Context, spec: PodSpec): Buffer[] {
  const out: Buffer[] = []
  ;(spec.imagePullSecrets ?? []).forEach((ref, i) => {
    const found = ctx.objects.secret(ctx.ds.metadata.namespace ?? 'default', ref.name)
    const at = joinPath('spec.template.spec', 'imagePullSecrets', i)
    if (found === undefined) return
    if (found.data === undefined) {
      ctx.unsupported.push({ path: at, message: `secret "${ref.name}" cannot be opened: ${found.why}` })
      return
    }
    const json = found.secret.type === DOCKER_CONFIG_JSON ? found.data.get('.dockerconfigjson') : found.secret.type === 'kubernetes.io/dockercfg' ? wrapDockerCfg(found.data.get('.dockercfg')) : undefined
    if (json === undefined) ctx.unsupported.push({ path: at, message: `secret "${ref.name}" is of type ${found.secret.type}, not ${DOCKER_CONFIG_JSON}` })
    else out.push(json)
  })
  return out
}

function wrapDockerCfg(content: Buffer | undefined): Buffer | undefined {
  return content === undefined ? undefined : Buffer.concat([Buffer.from('{"auths":'), content, Buffer.from('}')])
}

function resourcesOf(c: Container, path: string, ctx: Context, hc: DockerHostConfig): void {
  const limits = c.resources?.limits ?? {}
  const requests = c.resources?.requests ?? {}
  const memLimit = parseQuantity(limits.memory)
  const memRequest = parseQuantity(requests.memory)
  const cpuLimit = parseQuantity(limits.cpu)
  const cpuRequest = parseQuantity(requests.cpu) ?? cpuLimit
  if (memLimit !== undefined) hc.Memory = Math.round(memLimit)
  if (memRequest !== undefined) hc.MemoryReservation = Math.round(memRequest)
  if (cpuLimit !== undefined) hc.NanoCpus = Math.round(cpuLimit * 1e9)
  // Kubernetes' MilliCPUToShares: 1 core = 1024 shares, at least 2.
  if (cpuRequest !== undefined) hc.CpuShares = Math.max(2, Math.round(cpuRequest * 1024))
  for (const kind of ['limits', 'requests'] as const) {
    for (const name of Object.keys(c.resources?.[kind] ?? {})) {
      if (name !== 'cpu' && name !== 'memory') ctx.unsupported.push({ path: joinPath(path, 'resources', kind, name), message: `not supported: resource "${name}" is not enforced` })
    }
  }
}

function reportUnsupported(ctx: Context, spec: PodSpec): void {
  const base = 'spec.template.spec'
  for (const f of UNSUPPORTED_POD_FIELDS) {
    if (spec[f] !== undefined) ctx.unsupported.push({ path: joinPath(base, f), message: 'not supported (ignored)' })
  }
  const na = spec.affinity
  if (na?.podAffinity !== undefined) ctx.unsupported.push({ path: `${base}.affinity.podAffinity`, message: 'not supported (ignored)' })
  if (na?.podAntiAffinity !== undefined) ctx.unsupported.push({ path: `${base}.affinity.podAntiAffinity`, message: 'not supported (ignored)' })
  if (na?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution !== undefined) {
    ctx.unsupported.push({ path: `${base}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution`, message: 'not supported (ignored): a daemon pod has exactly one candidate node' })
  }
  for (const f of ['fsGroup', 'fsGroupChangePolicy', 'supplementalGroups', 'supplementalGroupsPolicy', 'runAsNonRoot', 'seLinuxOptions', 'seLinuxChangePolicy', 'seccompProfile', 'appArmorProfile', 'sysctls', 'windowsOptions']) {
    if (spec.securityContext?.[f] !== undefined) ctx.unsupported.push({ path: `${base}.securityContext.${f}`, message: 'not supported (ignored)' })
  }
  for (const f of ['serviceAccountName', 'serviceAccount'] as const) {
    if (spec[f] !== undefined) ctx.unsupported.push({ path: joinPath(base, f), message: 'no service account token is mounted (there is no API server); the name reaches the downward API only' })
  }
  if (spec.dnsPolicy === 'None' && spec.dnsConfig === undefined) ctx.unsupported.push({ path: `${base}.dnsPolicy`, message: 'not supported: "None" without dnsConfig' })
}

/**
 * podPlan turns the DaemonSet's pod template into Docker create bodies for `node`. The
 * first container owns the pod's network (and IPC) namespace; the others join it, so
 * the containers of one pod share localhost as in Kubernetes. Returns the plan with every
 * field it could not honour. `objects` are the store's ConfigMaps; what the pod needs of
 * them and lacks is in `missing`.
 */
export function podPlan(ds: DaemonSet, node: NodeInfo, objects: PodObjects = NO_OBJECTS): PodPlan {
  const spec = ds.spec.template.spec
  const revision = revisionOf(ds)
  const key = podKey(ds, revision, node.name)
  const ctx: Context = { ds, node, pod: podName(ds, node.name), uid: podUid(ds, node.name, revision), key, objects, unsupported: [], missing: [] }
  const dsLabel = refOf(ds).label
  reportUnsupported(ctx, spec)
  const volumes = podVolumesOf(ctx, spec)
  const owner = spec.containers[0] === undefined ? '' : dockerName(ds, spec.containers[0].name, revision, node.name)
  const dnsConfig = spec.dnsConfig as { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] } | undefined

  const pullConfigs = pullSecretConfigs(ctx, spec)
  /** build makes one container's create body: the pod's network owner, a member joining it, or an init container (run to completion before them). */
  const build = (c: Container, path: string, role: 'owner' | 'member' | 'init'): PodPlan['containers'][number] => {
    const first = role === 'owner'
    const init = role === 'init'
    for (const f of UNSUPPORTED_CONTAINER_FIELDS) {
      if (c[f] !== undefined) ctx.unsupported.push({ path: joinPath(path, f), message: 'not supported (ignored)' })
    }
    const sc = c.securityContext ?? {}
    for (const f of UNSUPPORTED_SECURITY_FIELDS) {
      if (sc[f] !== undefined) ctx.unsupported.push({ path: joinPath(path, 'securityContext', f), message: 'not supported (ignored)' })
    }
    const env = envOf(ctx, c, path)
    const expand = (s: string): string => expandVars(s, (n) => env.get(n))
    const hc: DockerHostConfig = { RestartPolicy: { Name: init ? 'no' : 'always' } }
    // An init container runs before the network owner exists: it shares the host's namespaces when the pod does, else has its own.
    if (spec.hostNetwork === true) hc.NetworkMode = 'host'
    else if (role === 'member') hc.NetworkMode = `container:${owner}`
    if (spec.hostPID === true) hc.PidMode = 'host'
    else if (spec.shareProcessNamespace === true && role === 'member') hc.PidMode = `container:${owner}`
    if (spec.hostIPC === true) hc.IpcMode = 'host'
    else if (!init) hc.IpcMode = first ? 'shareable' : `container:${owner}`
    if (sc.privileged === true) hc.Privileged = true
    if (sc.capabilities?.add !== undefined) hc.CapAdd = [...sc.capabilities.add]
    if (sc.capabilities?.drop !== undefined) hc.CapDrop = [...sc.capabilities.drop]
    if (sc.readOnlyRootFilesystem === true) hc.ReadonlyRootfs = true
    if (sc.allowPrivilegeEscalation === false) hc.SecurityOpt = ['no-new-privileges']
    resourcesOf(c, path, ctx, hc)
    const mounts = mountsOf(c, path, ctx, volumes)
    if (mounts.length > 0) hc.Mounts = mounts
    if (first && spec.hostNetwork !== true) {
      if (spec.hostAliases !== undefined) hc.ExtraHosts = spec.hostAliases.flatMap((a) => a.hostnames.map((h) => `${h}:${a.ip}`))
      if (dnsConfig?.nameservers !== undefined) hc.Dns = [...dnsConfig.nameservers]
      if (dnsConfig?.searches !== undefined) hc.DnsSearch = [...dnsConfig.searches]
      if (dnsConfig?.options !== undefined) hc.DnsOptions = dnsConfig.options.map((o) => (o.value === undefined ? o.name : `${o.name}:${o.value}`))
    }
    const checks: Record<string, string> = {}
    for (const [field, kind] of [['readinessProbe', 'readiness'], ['livenessProbe', 'liveness'], ['startupProbe', 'startup']] as const) {
      const probe = c[field]
      if (probe === undefined) continue
      if (init) {
        ctx.unsupported.push({ path: joinPath(path, field), message: 'not supported on an init container (ignored)' })
        continue
      }
      const r = probeCheckOf(probe, spec.containers, joinPath(path, field), kind)
      ctx.unsupported.push(...r.issues)
      if (r.check !== undefined) checks[Labels[kind]] = JSON.stringify(r.check)
    }
    const hooks = init ? { issues: c.lifecycle === undefined ? [] : [{ path: joinPath(path, 'lifecycle'), message: 'not supported on an init container (ignored)' }] } : hooksOf(c.lifecycle, spec.containers, joinPath(path, 'lifecycle'))
    ctx.unsupported.push(...hooks.issues)
    if (hooks.hooks !== undefined) checks[Labels.hooks] = JSON.stringify(hooks.hooks)
    const user = sc.runAsUser ?? spec.securityContext?.runAsUser
    const group = sc.runAsGroup ?? spec.securityContext?.runAsGroup
    // An init container carries no DaemonSet label: it is not one of the copy's containers (the reconciler never lists it).
    const labels: Record<string, string> = init
      ? { [Labels.node]: node.name, [Labels.revision]: revision, [Labels.initOf]: dsLabel, [Labels.container]: c.name, [Labels.pod]: key }
      : { ...(ds.spec.template.metadata?.labels ?? {}), [Labels.daemonSet]: dsLabel, [Labels.node]: node.name, [Labels.revision]: revision, [Labels.container]: c.name, [Labels.podOwner]: owner, [Labels.pod]: key, ...checks }
    const create: DockerCreate = {
      name: init ? initName(ds, c.name, revision, node.name) : dockerName(ds, c.name, revision, node.name),
      Image: c.image,
      Env: [...env].map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      StopTimeout: spec.terminationGracePeriodSeconds ?? 30,
      HostConfig: hc,
    }
    if (c.command !== undefined) {
      create.Entrypoint = c.command.map(expand)
      create.Cmd = (c.args ?? []).map(expand)
    } else if (c.args !== undefined) {
      create.Cmd = c.args.map(expand)
    }
    if (c.workingDir !== undefined) create.WorkingDir = c.workingDir
    if (user !== undefined) create.User = group === undefined ? String(user) : `${user}:${group}`
    else if (group !== undefined) ctx.unsupported.push({ path: joinPath(path, 'securityContext', 'runAsGroup'), message: 'not supported without runAsUser' })
    if (c.tty === true) create.Tty = true
    if (c.stdin === true) create.OpenStdin = true
    if ((first || init) && spec.hostNetwork !== true && spec.hostname !== undefined) create.Hostname = spec.hostname
    const pullAuth = pullAuthFor(c.image, pullConfigs)
    return { name: c.name, pullPolicy: c.imagePullPolicy ?? 'IfNotPresent', create, ...(pullAuth === undefined ? {} : { pullAuth }) }
  }
  const containers = spec.containers.map((c, i) => build(c, joinPath('spec.template.spec', 'containers', i), i === 0 ? 'owner' : 'member'))
  const init = (spec.initContainers ?? []).map((c, i) => build(c, joinPath('spec.template.spec', 'initContainers', i), 'init'))

  // Ports belong to the network owner: Docker refuses port bindings on a joined container.
  const head = containers[0]?.create
  if (head !== undefined && spec.hostNetwork !== true) {
    for (const c of spec.containers) {
      for (const p of c.ports ?? []) {
        const key = `${p.containerPort}/${(p.protocol ?? 'TCP').toLowerCase()}`
        ;(head.ExposedPorts ??= {})[key] = {}
        if (p.hostPort !== undefined && p.hostPort !== 0) {
          ;((head.HostConfig.PortBindings ??= {})[key] ??= []).push({ HostIp: p.hostIP ?? '', HostPort: String(p.hostPort) })
        }
      }
    }
  }
  return { daemonSet: dsLabel, node: node.name, revision, pod: key, uid: ctx.uid, containers, init, volumes: [...volumes.values()], unsupported: ctx.unsupported, missing: [...new Set(ctx.missing)] }
}
