// Semantic validation of a defaulted DaemonSet, after the structural schema has passed.
// Every problem is gathered with its field path. No I/O here.

import { validateNodeSelectorTerms } from './affinity.js'
import { validResourceDivisor } from './downward-api.js'
import type { FieldIssue } from './errors.js'
import { parseIntOrPercent } from './intstr.js'
import { dns1123Label, dns1123Subdomain, portName, qualifiedName } from './names.js'
import { joinPath } from './path.js'
import { parseQuantity } from './quantity.js'
import { compileSelector, validateLabels } from './selector.js'
import { validateToleration } from './taints.js'
import { configKeyProblem } from './object-meta.js'
import type { Container, DaemonSet, DownwardAPIItem, KeyToPath, PodSpec, ResourceFieldSelector, Volume } from './types.js'

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never']
const PROTOCOLS = ['TCP', 'UDP', 'SCTP']
const STANDARD_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage'])
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']
const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']

function validateDivisor(ref: ResourceFieldSelector, path: string, issues: FieldIssue[]): void {
  if (!validResourceDivisor(ref.resource, ref.divisor)) {
    issues.push({ path: joinPath(path, 'divisor'), message: `Invalid value: ${JSON.stringify(ref.divisor)}: not a valid divisor for ${ref.resource}` })
  }
}

function validateMode(mode: number | undefined, path: string, issues: FieldIssue[]): void {
  if (mode !== undefined && (mode < 0 || mode > 0o777)) issues.push({ path, message: `Invalid value: ${mode}: must be a number between 0 and 0777 (octal), both inclusive` })
}

/** validateKeyItems checks the items of a configMap volume or projection: valid keys, relative unique paths, modes. */
function validateKeyItems(items: readonly KeyToPath[], path: string, seen: Set<string>, issues: FieldIssue[]): void {
  items.forEach((item, i) => {
    const p = joinPath(path, 'items', i)
    const bad = configKeyProblem(item.key)
    if (bad !== undefined) issues.push({ path: joinPath(p, 'key'), message: `Invalid value: "${item.key}": ${bad}` })
    if (item.path === '') issues.push({ path: joinPath(p, 'path'), message: 'required' })
    else if (item.path.startsWith('/') || item.path.split('/').includes('..')) issues.push({ path: joinPath(p, 'path'), message: `Invalid value: "${item.path}": must be a relative path without '..'` })
    else if (seen.has(item.path)) issues.push({ path: joinPath(p, 'path'), message: `Duplicate value: "${item.path}"` })
    seen.add(item.path)
    validateMode(item.mode, joinPath(p, 'mode'), issues)
  })
}

/** validateDownwardItems checks the files of a downwardAPI volume or projection: one source each, relative unique paths, modes, divisors. */
function validateDownwardItems(items: readonly DownwardAPIItem[], path: string, seen: Set<string>, issues: FieldIssue[]): void {
  items.forEach((item, i) => {
    const p = joinPath(path, 'items', i)
    if (item.path === '') issues.push({ path: joinPath(p, 'path'), message: 'required' })
    else if (item.path.startsWith('/') || item.path.split('/').includes('..')) issues.push({ path: joinPath(p, 'path'), message: `Invalid value: "${item.path}": must be a relative path without '..'` })
    else if (seen.has(item.path)) issues.push({ path: joinPath(p, 'path'), message: `Duplicate value: "${item.path}"` })
    seen.add(item.path)
    if ((item.fieldRef === undefined) === (item.resourceFieldRef === undefined)) issues.push({ path: p, message: 'Invalid value: must specify exactly one of `fieldRef` or `resourceFieldRef`' })
    if (item.resourceFieldRef !== undefined) {
      if ((item.resourceFieldRef.containerName ?? '') === '') issues.push({ path: joinPath(p, 'resourceFieldRef', 'containerName'), message: 'required' })
      validateDivisor(item.resourceFieldRef, joinPath(p, 'resourceFieldRef'), issues)
    }
    validateMode(item.mode, joinPath(p, 'mode'), issues)
  })
}

/** Volume source fields we know of; a volume must name exactly one. */
const VOLUME_SOURCES = [
  'hostPath', 'emptyDir', 'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'secret', 'nfs', 'iscsi', 'glusterfs',
  'persistentVolumeClaim', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc', 'azureFile',
  'configMap', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'projected', 'portworxVolume',
  'scaleIO', 'storageos', 'csi', 'ephemeral', 'image',
]

function nonNegative(value: number | undefined, path: string, issues: FieldIssue[]): void {
  if (value !== undefined && value < 0) issues.push({ path, message: `Invalid value: ${value}: must be greater than or equal to 0` })
}

function validateMeta(ds: DaemonSet, issues: FieldIssue[]): void {
  const name = ds.metadata.name
  if (name === '') issues.push({ path: 'metadata.name', message: 'required' })
  else for (const p of dns1123Subdomain(name)) issues.push({ path: 'metadata.name', message: `Invalid value: "${name}": ${p}` })
  const ns = ds.metadata.namespace ?? ''
  for (const p of dns1123Label(ns)) issues.push({ path: 'metadata.namespace', message: `Invalid value: "${ns}": ${p}` })
  issues.push(...validateLabels(ds.metadata.labels, 'metadata.labels'))
  for (const key of Object.keys(ds.metadata.annotations ?? {})) {
    for (const p of qualifiedName(key)) issues.push({ path: 'metadata.annotations', message: `Invalid value: "${key}": ${p}` })
  }
}

function validateSelector(ds: DaemonSet, issues: FieldIssue[]): void {
  const templateLabels = ds.spec.template.metadata?.labels
  issues.push(...validateLabels(templateLabels, 'spec.template.metadata.labels'))
  if (ds.spec.selector === undefined || ds.spec.selector === null) {
    issues.push({ path: 'spec.selector', message: 'required' })
    return
  }
  const { selector, issues: selIssues } = compileSelector(ds.spec.selector, 'spec.selector')
  issues.push(...selIssues)
  if (selIssues.length > 0) return
  if (selector.empty) {
    issues.push({ path: 'spec.selector', message: 'Invalid value: empty selector is invalid for daemonset' })
  } else if (!selector.matches(templateLabels)) {
    issues.push({
      path: 'spec.template.metadata.labels',
      message: `Invalid value: ${JSON.stringify(templateLabels ?? {})}: \`selector\` does not match template \`labels\``,
    })
  }
}

function validateStrategy(ds: DaemonSet, issues: FieldIssue[]): void {
  const s = ds.spec.updateStrategy
  nonNegative(ds.spec.minReadySeconds, 'spec.minReadySeconds', issues)
  nonNegative(ds.spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', issues)
  if (s === undefined) return
  if (s.type !== 'RollingUpdate' && s.type !== 'OnDelete') {
    issues.push({ path: 'spec.updateStrategy.type', message: `Unsupported value: "${String(s.type)}": supported values: "OnDelete", "RollingUpdate"` })
    return
  }
  if (s.type === 'OnDelete') {
    if (s.rollingUpdate !== undefined) issues.push({ path: 'spec.updateStrategy.rollingUpdate', message: 'Forbidden: may not be specified when strategy `type` is \'OnDelete\'' })
    return
  }
  const values: Record<string, number> = {}
  for (const field of ['maxUnavailable', 'maxSurge'] as const) {
    const path = `spec.updateStrategy.rollingUpdate.${field}`
    const raw = s.rollingUpdate?.[field]
    const v = parseIntOrPercent(raw)
    if (v === undefined) {
      issues.push({ path, message: `Invalid value: ${JSON.stringify(raw)}: must be an integer or percentage (e.g '5%')` })
      continue
    }
    if (v.value < 0) issues.push({ path, message: `Invalid value: ${JSON.stringify(raw)}: must be greater than or equal to 0` })
    if (v.kind === 'percent' && v.value > 100) issues.push({ path, message: `Invalid value: ${JSON.stringify(raw)}: must not be greater than 100%` })
    values[field] = v.value
  }
  if (values.maxUnavailable === 0 && values.maxSurge === 0) {
    issues.push({ path: 'spec.updateStrategy.rollingUpdate.maxUnavailable', message: 'Invalid value: 0: may not be 0 when `maxSurge` is 0' })
  }
}

function validateResources(c: Container, path: string, issues: FieldIssue[]): void {
  const parsed: Record<'limits' | 'requests', Record<string, number>> = { limits: {}, requests: {} }
  for (const kind of ['limits', 'requests'] as const) {
    for (const [name, raw] of Object.entries(c.resources?.[kind] ?? {})) {
      const p = joinPath(path, 'resources', kind, name)
      if (!STANDARD_RESOURCES.has(name) && !name.startsWith('hugepages-') && !name.includes('/')) {
        issues.push({ path: p, message: `Invalid value: "${name}": must be a standard resource type or fully qualified` })
      }
      const q = parseQuantity(raw)
      if (q === undefined) issues.push({ path: p, message: `Invalid value: "${String(raw)}": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'` })
      else if (q < 0) issues.push({ path: p, message: `Invalid value: "${String(raw)}": must be greater than or equal to 0` })
      else parsed[kind][name] = q
    }
  }
  for (const [name, req] of Object.entries(parsed.requests)) {
    const lim = parsed.limits[name]
    if (lim !== undefined && req > lim) {
      issues.push({ path: joinPath(path, 'resources', 'requests'), message: `Invalid value: "${String(c.resources?.requests?.[name])}": must be less than or equal to ${name} limit of ${String(c.resources?.limits?.[name])}` })
    }
  }
}

function validateContainer(c: Container, path: string, pod: PodSpec, volumeNames: Set<string>, issues: FieldIssue[], hostPorts: Map<string, string>): void {
  if (c.name === '') issues.push({ path: joinPath(path, 'name'), message: 'required' })
  else for (const p of dns1123Label(c.name)) issues.push({ path: joinPath(path, 'name'), message: `Invalid value: "${c.name}": ${p}` })
  if (c.image.trim() === '') issues.push({ path: joinPath(path, 'image'), message: 'required' })
  if (c.imagePullPolicy !== undefined && !PULL_POLICIES.includes(c.imagePullPolicy)) {
    issues.push({ path: joinPath(path, 'imagePullPolicy'), message: `Unsupported value: "${c.imagePullPolicy}": supported values: "Always", "IfNotPresent", "Never"` })
  }
  const portNames = new Set<string>()
  ;(c.ports ?? []).forEach((port, i) => {
    const p = joinPath(path, 'ports', i)
    if (port.containerPort < 1 || port.containerPort > 65535) {
      issues.push({ path: joinPath(p, 'containerPort'), message: `Invalid value: ${port.containerPort}: must be between 1 and 65535, inclusive` })
    }
    const hostPort = port.hostPort ?? 0
    if (hostPort < 0 || hostPort > 65535) issues.push({ path: joinPath(p, 'hostPort'), message: `Invalid value: ${hostPort}: must be between 1 and 65535, inclusive` })
    if (pod.hostNetwork === true && hostPort !== 0 && hostPort !== port.containerPort) {
      issues.push({ path: joinPath(p, 'hostPort'), message: `Invalid value: ${hostPort}: must match \`containerPort\` when \`hostNetwork\` is true` })
    }
    const protocol = port.protocol ?? 'TCP'
    if (!PROTOCOLS.includes(protocol)) issues.push({ path: joinPath(p, 'protocol'), message: `Unsupported value: "${protocol}": supported values: "SCTP", "TCP", "UDP"` })
    if (port.name !== undefined) {
      for (const e of portName(port.name)) issues.push({ path: joinPath(p, 'name'), message: `Invalid value: "${port.name}": ${e}` })
      if (portNames.has(port.name)) issues.push({ path: joinPath(p, 'name'), message: `Duplicate value: "${port.name}"` })
      portNames.add(port.name)
    }
    const effectiveHost = pod.hostNetwork === true ? port.containerPort : hostPort
    if (effectiveHost !== 0) {
      const k = `${port.hostIP ?? ''}/${effectiveHost}/${protocol}`
      const first = hostPorts.get(k)
      if (first !== undefined) issues.push({ path: joinPath(p, 'hostPort'), message: `Duplicate value: "${effectiveHost}/${protocol}" (also used by ${first})` })
      else hostPorts.set(k, p)
    }
  })
  validateResources(c, path, issues)
  const mountPaths = new Set<string>()
  ;(c.volumeMounts ?? []).forEach((m, i) => {
    const p = joinPath(path, 'volumeMounts', i)
    if (m.name === '') issues.push({ path: joinPath(p, 'name'), message: 'required' })
    else if (!volumeNames.has(m.name)) issues.push({ path: joinPath(p, 'name'), message: `Not found: "${m.name}"` })
    if (m.mountPath === '') issues.push({ path: joinPath(p, 'mountPath'), message: 'required' })
    else if (mountPaths.has(m.mountPath)) issues.push({ path: joinPath(p, 'mountPath'), message: `Invalid value: "${m.mountPath}": must be unique` })
    mountPaths.add(m.mountPath)
    if (m.subPath !== undefined && (m.subPath.startsWith('/') || m.subPath.split('/').includes('..'))) {
      issues.push({ path: joinPath(p, 'subPath'), message: `Invalid value: "${m.subPath}": must be a relative path without '..'` })
    }
  })
  const envNames = new Set<string>()
  ;(c.env ?? []).forEach((e, i) => {
    const p = joinPath(path, 'env', i)
    if (e.name === '' || e.name.includes('=')) issues.push({ path: joinPath(p, 'name'), message: `Invalid value: "${e.name}": a valid environment variable name must consist only of printable ASCII characters other than '='` })
    envNames.add(e.name)
    if (e.value !== undefined && e.value !== '' && e.valueFrom !== undefined) {
      issues.push({ path: joinPath(p, 'valueFrom'), message: 'Invalid value: may not be specified when `value` is not empty' })
    }
    if (e.valueFrom !== undefined && Object.keys(e.valueFrom).filter((k) => e.valueFrom?.[k] !== undefined).length !== 1) {
      issues.push({ path: joinPath(p, 'valueFrom'), message: 'Invalid value: must specify exactly one of `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`' })
    }
    for (const source of ['configMapKeyRef', 'secretKeyRef'] as const) {
      const ref = e.valueFrom?.[source]
      if (ref === undefined) continue
      if (ref.name === '') issues.push({ path: joinPath(p, 'valueFrom', source, 'name'), message: 'required' })
      const bad = configKeyProblem(ref.key)
      if (bad !== undefined) issues.push({ path: joinPath(p, 'valueFrom', source, 'key'), message: `Invalid value: "${ref.key}": ${bad}` })
    }
    if (e.valueFrom?.resourceFieldRef !== undefined) validateDivisor(e.valueFrom.resourceFieldRef, joinPath(p, 'valueFrom', 'resourceFieldRef'), issues)
  })
  ;(c.envFrom ?? []).forEach((f, i) => {
    const p = joinPath(path, 'envFrom', i)
    if ((f.configMapRef === undefined) === (f.secretRef === undefined)) issues.push({ path: p, message: 'Invalid value: must specify exactly one of `configMapRef` or `secretRef`' })
    if (f.configMapRef !== undefined && f.configMapRef.name === '') issues.push({ path: joinPath(p, 'configMapRef', 'name'), message: 'required' })
    if (f.secretRef !== undefined && f.secretRef.name === '') issues.push({ path: joinPath(p, 'secretRef', 'name'), message: 'required' })
    if (f.prefix !== undefined && f.prefix.includes('=')) issues.push({ path: joinPath(p, 'prefix'), message: `Invalid value: "${f.prefix}": must not contain '='` })
  })
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe'] as const) {
    const pr = c[probe] as Record<string, unknown> | undefined
    if (pr === undefined) continue
    const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => pr[h] !== undefined)
    if (handlers.length !== 1) issues.push({ path: joinPath(path, probe), message: 'Required value: must specify exactly one handler type (exec, httpGet, tcpSocket or grpc)' })
  }
}

function validateVolumes(volumes: Volume[], issues: FieldIssue[]): Set<string> {
  const names = new Set<string>()
  volumes.forEach((v, i) => {
    const p = joinPath('spec.template.spec.volumes', i)
    if (v.name === '') issues.push({ path: joinPath(p, 'name'), message: 'required' })
    else for (const e of dns1123Label(v.name)) issues.push({ path: joinPath(p, 'name'), message: `Invalid value: "${v.name}": ${e}` })
    if (names.has(v.name)) issues.push({ path: joinPath(p, 'name'), message: `Duplicate value: "${v.name}"` })
    names.add(v.name)
    const sources = VOLUME_SOURCES.filter((s) => v[s] !== undefined && v[s] !== null)
    if (sources.length === 0) issues.push({ path: p, message: 'Required value: must specify a volume type' })
    if (sources.length > 1) issues.push({ path: joinPath(p, sources[1] ?? ''), message: 'Forbidden: may not specify more than 1 volume type' })
    if (v.hostPath !== undefined) {
      if (v.hostPath.path === '') issues.push({ path: joinPath(p, 'hostPath', 'path'), message: 'required' })
      else if (!v.hostPath.path.startsWith('/')) issues.push({ path: joinPath(p, 'hostPath', 'path'), message: `Invalid value: "${v.hostPath.path}": must be an absolute path` })
      const type = v.hostPath.type ?? ''
      if (!HOST_PATH_TYPES.includes(type)) issues.push({ path: joinPath(p, 'hostPath', 'type'), message: `Unsupported value: "${type}": supported values: ${HOST_PATH_TYPES.map((t) => `"${t}"`).join(', ')}` })
    }
    if (v.downwardAPI !== undefined) {
      validateMode(v.downwardAPI.defaultMode, joinPath(p, 'downwardAPI', 'defaultMode'), issues)
      validateDownwardItems(v.downwardAPI.items ?? [], joinPath(p, 'downwardAPI'), new Set(), issues)
    }
    if (v.configMap !== undefined) {
      if (v.configMap.name === '') issues.push({ path: joinPath(p, 'configMap', 'name'), message: 'required' })
      validateMode(v.configMap.defaultMode, joinPath(p, 'configMap', 'defaultMode'), issues)
      validateKeyItems(v.configMap.items ?? [], joinPath(p, 'configMap'), new Set(), issues)
    }
    if (v.secret !== undefined) {
      if (v.secret.secretName === '') issues.push({ path: joinPath(p, 'secret', 'secretName'), message: 'required' })
      validateMode(v.secret.defaultMode, joinPath(p, 'secret', 'defaultMode'), issues)
      validateKeyItems(v.secret.items ?? [], joinPath(p, 'secret'), new Set(), issues)
    }
    if (v.projected !== undefined) {
      validateMode(v.projected.defaultMode, joinPath(p, 'projected', 'defaultMode'), issues)
      const seen = new Set<string>()
      ;(v.projected.sources ?? []).forEach((src, j) => {
        if (src.downwardAPI !== undefined) validateDownwardItems(src.downwardAPI.items ?? [], joinPath(p, 'projected', 'sources', j, 'downwardAPI'), seen, issues)
        if (src.configMap !== undefined) validateKeyItems(src.configMap.items ?? [], joinPath(p, 'projected', 'sources', j, 'configMap'), seen, issues)
        if (src.secret !== undefined) validateKeyItems(src.secret.items ?? [], joinPath(p, 'projected', 'sources', j, 'secret'), seen, issues)
      })
    }
  })
  return names
}

function validatePod(ds: DaemonSet, issues: FieldIssue[]): void {
  const pod = ds.spec.template.spec
  const base = 'spec.template.spec'
  if (pod.restartPolicy !== 'Always') {
    issues.push({ path: `${base}.restartPolicy`, message: `Unsupported value: "${String(pod.restartPolicy)}": supported values: "Always"` })
  }
  nonNegative(pod.terminationGracePeriodSeconds, `${base}.terminationGracePeriodSeconds`, issues)
  if (pod.dnsPolicy !== undefined && !DNS_POLICIES.includes(pod.dnsPolicy as string)) {
    issues.push({ path: `${base}.dnsPolicy`, message: `Unsupported value: "${String(pod.dnsPolicy)}": supported values: "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"` })
  }
  if (pod.nodeName !== undefined && pod.nodeName !== '') {
    for (const p of dns1123Subdomain(pod.nodeName)) issues.push({ path: `${base}.nodeName`, message: `Invalid value: "${pod.nodeName}": ${p}` })
  }
  const volumeNames = validateVolumes(pod.volumes ?? [], issues)
  if (pod.containers.length === 0) issues.push({ path: `${base}.containers`, message: 'Required value: at least one container' })
  const seen = new Set<string>()
  const hostPorts = new Map<string, string>()
  const all = [...pod.containers.map((c, i) => ({ c, path: joinPath(base, 'containers', i) })), ...(pod.initContainers ?? []).map((c, i) => ({ c, path: joinPath(base, 'initContainers', i) }))]
  for (const { c, path } of all) {
    if (c.name !== '' && seen.has(c.name)) issues.push({ path: joinPath(path, 'name'), message: `Duplicate value: "${c.name}"` })
    seen.add(c.name)
    validateContainer(c, path, pod, volumeNames, issues, hostPorts)
  }
  issues.push(...validateLabels(pod.nodeSelector, `${base}.nodeSelector`))
  ;(pod.tolerations ?? []).forEach((t, i) => issues.push(...validateToleration(t, joinPath(base, 'tolerations', i))))
  const required = pod.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
  if (required !== undefined) {
    issues.push(...validateNodeSelectorTerms(required.nodeSelectorTerms, `${base}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`))
  }
}

/**
 * validateDaemonSet checks a defaulted DaemonSet and returns every error found:
 *  1. metadata: name a DNS-1123 subdomain, namespace a DNS-1123 label, valid labels;
 *  2. selector: required, non-empty, valid, and matching the template labels;
 *  3. update strategy: RollingUpdate or OnDelete; maxUnavailable/maxSurge int or
 *     percent in range and not both zero; non-negative counts;
 *  4. pod: restartPolicy Always, at least one container, unique container names,
 *     images, pull policies, ports in range and no host port used twice, quantities,
 *     volumes with exactly one source and mounts that name them, env, probes,
 *     tolerations, nodeSelector and node affinity.
 */
export function validateDaemonSet(ds: DaemonSet): FieldIssue[] {
  const issues: FieldIssue[] = []
  validateMeta(ds, issues)
  validateSelector(ds, issues)
  validateStrategy(ds, issues)
  validatePod(ds, issues)
  return issues
}
