// A pod's volumes, decided: what each volume of the template becomes on the host (a
// hostPath to check or create, a directory or tmpfs of the pod, files the agent writes from
// the downward API, ConfigMaps and Secrets), and each container's mounts of them as Docker Mounts.
// The runtime makes them (agent/runtime/pod-volumes.ts). No I/O here.

import { configMapEntries, type ConfigMap } from './configmap.js'
import { SecretKeyError, type SecretKey } from './secret-box.js'
import { openSecret, type Secret, type SecretData } from './secret.js'
import { DEFAULT_FILE_MODE, downwardFiles, type PodFacts, type PodFile } from './downward-api.js'
import type { FieldIssue } from './errors.js'
import { StoreKey, dsRef } from './keyspace.js'
import { joinPath } from './path.js'
import { parseQuantity } from './quantity.js'
import type { Container, DownwardAPIItem, KeyToPath, PodSpec, Volume, VolumeMount } from './types.js'

/**
 * DockerMount is one entry of HostConfig.Mounts. A bind Source that is not absolute names a
 * path under the runtime's pod directory (a PodVolume's `dir`), or, when it starts with
 * MEMORY_DIR, under the runtime's memory directory (a tmpfs): the runtime makes it absolute.
 */
export interface DockerMount {
  Type: 'bind' | 'volume'
  Source: string
  Target: string
  ReadOnly: boolean
  BindOptions?: { Propagation: string }
  VolumeOptions?: { NoCopy: boolean }
}

/** MEMORY_DIR starts the `dir` of written files that must never reach a disk (Secrets): the runtime keeps them on a tmpfs. */
export const MEMORY_DIR = '@memory/'

/** HostPathType is a hostPath volume's `type` (validated: one of Kubernetes' values). */
export type HostPathType = '' | 'DirectoryOrCreate' | 'Directory' | 'FileOrCreate' | 'File' | 'Socket' | 'CharDevice' | 'BlockDevice'

/**
 * PodVolume is what must exist on the host before the pod's containers are created; the
 * runtime makes it (agent/runtime/pod-volumes.ts) and removes the pod's own ones with the
 * pod. `dir` is relative to the runtime's pod directory.
 *  - hostPath: the path checked or created as its type says (kubelet's rules), and the
 *    subPaths mounted from it created as directories when missing;
 *  - emptyDir: a directory of this pod (mode 0777), new for each pod;
 *  - tmpfs: an emptyDir with `medium: Memory`: one Docker tmpfs volume that every container
 *    of the pod mounts, of `sizeBytes` when sizeLimit is set;
 *  - files: a directory of files written by the agent (downwardAPI, configMap, secret,
 *    projected); its `dir` starts with MEMORY_DIR when it holds a Secret's data.
 */
export type PodVolume =
  | { kind: 'hostPath'; name: string; path: string; type: HostPathType; subPaths: string[] }
  | { kind: 'emptyDir'; name: string; dir: string; subPaths: string[] }
  | { kind: 'tmpfs'; name: string; volume: string; sizeBytes?: number }
  | { kind: 'files'; name: string; dir: string; files: PodFile[] }

/**
 * SecretLookup is a Secret as a pod plan sees it: opened (`data`), or present but not opened
 * here (`why`: no secret key on this host, another key, altered), or absent (undefined).
 */
export type SecretLookup = { secret: Secret; data: SecretData; why?: undefined } | { secret: Secret; data?: undefined; why: string } | undefined

/** PodObjects is what a pod plan reads of the store besides its DaemonSet: ConfigMaps and Secrets. Must not block. */
export interface PodObjects {
  configMap(namespace: string, name: string): ConfigMap | undefined
  secret(namespace: string, name: string): SecretLookup
}

/** NO_SECRET_KEY says why a host without a secret key opens no Secret. */
export const NO_SECRET_KEY = 'this host has no secret key (secretKey in the configuration, --secret-key)'

/**
 * storeObjects returns the PodObjects a read of the replicated store gives: the live
 * ConfigMap under `cm/NS/NAME` and Secret under `secret/NS/NAME`. Secrets are opened with
 * `secretKey` when given: pass it only for the pods this host runs (nothing else is
 * decrypted here); without it a Secret is present but not opened.
 */
export function storeObjects(get: (key: string) => { op: string; value?: unknown } | undefined, secretKey?: SecretKey): PodObjects {
  return {
    configMap: (namespace, name) => {
      const env = get(StoreKey.configMap(dsRef(namespace, name)))
      return env?.op === 'put' ? (env.value as ConfigMap) : undefined
    },
    secret: (namespace, name) => {
      const env = get(StoreKey.secret(dsRef(namespace, name)))
      if (env?.op !== 'put') return undefined
      const secret = env.value as Secret
      if (secretKey === undefined) return { secret, why: NO_SECRET_KEY }
      try {
        return { secret, data: openSecret(secret, secretKey) }
      } catch (err) {
        if (err instanceof SecretKeyError) return { secret, why: err.message }
        throw err
      }
    },
  }
}

/** NO_OBJECTS knows no ConfigMap or Secret: a plan made with it lists every one it uses as missing (enough for warnings). */
export const NO_OBJECTS: PodObjects = { configMap: () => undefined, secret: () => undefined }

/** VolumeContext is what deciding a pod's volumes and env reads and reports: the pod, the store's objects, and what it cannot honour or lacks. */
export interface VolumeContext extends PodFacts {
  /** The pod's own name on its host (PodPlan.pod). */
  key: string
  objects: PodObjects
  unsupported: FieldIssue[]
  missing: string[]
}

/** configMapOf looks a ConfigMap of the pod's namespace up; a missing one that is not optional is noted as missing. */
export function configMapOf(ctx: VolumeContext, name: string, optional: boolean | undefined): ConfigMap | undefined {
  const cm = ctx.objects.configMap(ctx.ds.metadata.namespace ?? 'default', name)
  if (cm === undefined && optional !== true) ctx.missing.push(`configmap "${name}" not found`)
  return cm
}

/**
 * secretOf looks a Secret of the pod's namespace up and returns its data: a missing one that
 * is not optional, and one this host cannot open (optional or not: it exists, and kubelet
 * would use it), are noted as missing.
 */
export function secretOf(ctx: VolumeContext, name: string, optional: boolean | undefined): SecretData | undefined {
  const found = ctx.objects.secret(ctx.ds.metadata.namespace ?? 'default', name)
  if (found === undefined) {
    if (optional !== true) ctx.missing.push(`secret "${name}" not found`)
    return undefined
  }
  if (found.why !== undefined) ctx.missing.push(`secret "${name}" cannot be opened: ${found.why}`)
  return found.data
}

const PROPAGATION: Record<string, string> = { None: 'rprivate', HostToContainer: 'rslave', Bidirectional: 'rshared' }

const sub = (base: string, subPath: string | undefined): string => (subPath === undefined || subPath === '' ? base : `${base.replace(/\/$/, '')}/${subPath}`)

/**
 * podVolumesOf returns what the runtime makes for each volume the containers mount, and
 * reports what it cannot honour: sources other than hostPath, emptyDir, downwardAPI and
 * projected downwardAPI; emptyDir media other than Memory; a sizeLimit on disk.
 */
export function podVolumesOf(ctx: VolumeContext, spec: PodSpec): Map<string, PodVolume> {
  const base = 'spec.template.spec'
  const mounted = new Map<string, string[]>()
  for (const c of spec.containers) for (const m of c.volumeMounts ?? []) (mounted.get(m.name) ?? mounted.set(m.name, []).get(m.name))?.push(m.subPath ?? '')
  const out = new Map<string, PodVolume>()
  ;(spec.volumes ?? []).forEach((v: Volume, i) => {
    const at = joinPath(base, 'volumes', i)
    const subPaths = [...new Set((mounted.get(v.name) ?? []).filter((p) => p !== ''))].sort()
    if (v.hostPath !== undefined) {
      out.set(v.name, { kind: 'hostPath', name: v.name, path: v.hostPath.path, type: (v.hostPath.type ?? '') as HostPathType, subPaths })
    } else if (v.emptyDir !== undefined) {
      const medium = v.emptyDir.medium ?? ''
      const size = parseQuantity(v.emptyDir.sizeLimit)
      if (medium === 'Memory') {
        if (subPaths.length > 0) ctx.unsupported.push({ path: at, message: 'not supported: subPath of an emptyDir with medium Memory' })
        out.set(v.name, { kind: 'tmpfs', name: v.name, volume: `${ctx.key}_${v.name}`, ...(size === undefined ? {} : { sizeBytes: Math.max(1, Math.ceil(size)) }) })
        return
      }
      if (medium !== '') ctx.unsupported.push({ path: joinPath(at, 'emptyDir', 'medium'), message: `not supported: "${medium}" (a directory on disk is used)` })
      if (size !== undefined) ctx.unsupported.push({ path: joinPath(at, 'emptyDir', 'sizeLimit'), message: 'not enforced on disk (only with medium: Memory, as the tmpfs size)' })
      out.set(v.name, { kind: 'emptyDir', name: v.name, dir: `${ctx.key}/${v.name}`, subPaths })
    } else if (v.downwardAPI !== undefined) {
      const r = downwardFiles(ctx, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode, joinPath(at, 'downwardAPI'))
      ctx.unsupported.push(...r.issues)
      out.set(v.name, { kind: 'files', name: v.name, dir: `${ctx.key}/${v.name}`, files: r.files })
    } else if (v.configMap !== undefined) {
      out.set(v.name, { kind: 'files', name: v.name, dir: `${ctx.key}/${v.name}`, files: keyFiles(ctx, 'configmap', v.configMap.name, v.configMap, v.configMap.defaultMode) })
    } else if (v.secret !== undefined) {
      out.set(v.name, { kind: 'files', name: v.name, dir: `${MEMORY_DIR}${ctx.key}/${v.name}`, files: keyFiles(ctx, 'secret', v.secret.secretName, v.secret, v.secret.defaultMode) })
    } else if (v.projected !== undefined) {
      const files: PodFile[] = []
      let memory = false
      ;(v.projected.sources ?? []).forEach((src, j) => {
        const sp = joinPath(at, 'projected', 'sources', j)
        if (src.downwardAPI !== undefined) {
          const r = downwardFiles(ctx, (src.downwardAPI.items ?? []) as DownwardAPIItem[], v.projected?.defaultMode, joinPath(sp, 'downwardAPI'))
          ctx.unsupported.push(...r.issues)
          files.push(...r.files)
        }
        if (src.configMap !== undefined) files.push(...keyFiles(ctx, 'configmap', src.configMap.name, src.configMap, v.projected?.defaultMode))
        if (src.secret !== undefined) {
          memory = true
          files.push(...keyFiles(ctx, 'secret', src.secret.name, src.secret, v.projected?.defaultMode))
        }
        for (const k of Object.keys(src)) {
          if (!PROJECTED.has(k) && src[k] !== undefined) ctx.unsupported.push({ path: joinPath(sp, k), message: 'not supported: only downwardAPI, configMap and secret sources are projected' })
        }
      })
      out.set(v.name, { kind: 'files', name: v.name, dir: `${memory ? MEMORY_DIR : ''}${ctx.key}/${v.name}`, files })
    } else {
      const source = Object.keys(v).find((k) => k !== 'name') ?? 'source'
      ctx.unsupported.push({ path: joinPath(at, source), message: 'not supported: only hostPath, emptyDir, configMap, secret, downwardAPI and projected (downwardAPI, configMap, secret) volumes are mounted' })
    }
  })
  return out
}

const PROJECTED = new Set(['downwardAPI', 'configMap', 'secret'])

/**
 * keyFiles returns the files of a configMap or secret volume or projection: every key, or
 * the listed items (a listed key the object lacks is missing unless optional), with the
 * item's mode, else `defaultMode`, else 0644. A missing optional object has no files.
 */
function keyFiles(ctx: VolumeContext, kind: 'configmap' | 'secret', name: string, src: { items?: KeyToPath[]; optional?: boolean }, defaultMode: number | undefined): PodFile[] {
  let entries: Map<string, Buffer> | undefined
  if (kind === 'secret') entries = secretOf(ctx, name, src.optional)
  else {
    const cm = configMapOf(ctx, name, src.optional)
    entries = cm === undefined ? undefined : configMapEntries(cm)
  }
  if (entries === undefined) return []
  const mode = defaultMode ?? DEFAULT_FILE_MODE
  if (src.items === undefined) return [...entries].map(([k, content]) => ({ path: k, content, mode }))
  return src.items.flatMap((item) => {
    const content = entries.get(item.key)
    if (content === undefined) {
      if (src.optional !== true) ctx.missing.push(`${kind} references non-existent ${kind === 'secret' ? 'secret' : 'config'} key: ${item.key}`)
      return []
    }
    return [{ path: item.path, content, mode: item.mode ?? mode }]
  })
}

/** mountsOf returns a container's volumeMounts as Docker mounts of the pod's volumes (binds, or the pod's tmpfs volume). */
export function mountsOf(c: Container, path: string, ctx: VolumeContext, volumes: ReadonlyMap<string, PodVolume>): DockerMount[] {
  const mounts: DockerMount[] = []
  ;(c.volumeMounts ?? []).forEach((m: VolumeMount, i) => {
    const mp = joinPath(path, 'volumeMounts', i)
    const v = volumes.get(m.name)
    if (v === undefined) return
    const ro = m.readOnly === true
    const propagation = m.mountPropagation === undefined ? undefined : PROPAGATION[m.mountPropagation]
    if (m.mountPropagation !== undefined && propagation === undefined) {
      ctx.unsupported.push({ path: joinPath(mp, 'mountPropagation'), message: `not supported: "${m.mountPropagation}"` })
    }
    const bind = (source: string, readOnly: boolean): DockerMount => ({ Type: 'bind', Source: source, Target: m.mountPath, ReadOnly: readOnly, ...(propagation === undefined ? {} : { BindOptions: { Propagation: propagation } }) })
    switch (v.kind) {
      case 'hostPath':
        mounts.push(bind(sub(v.path, m.subPath), ro))
        break
      case 'emptyDir':
        mounts.push(bind(sub(v.dir, m.subPath), ro))
        break
      case 'tmpfs':
        mounts.push({ Type: 'volume', Source: v.volume, Target: m.mountPath, ReadOnly: ro, VolumeOptions: { NoCopy: true } })
        break
      case 'files':
        // Kubernetes mounts downwardAPI and projected volumes read-only, whatever readOnly says.
        mounts.push(bind(sub(v.dir, m.subPath), true))
        break
    }
  })
  return mounts
}

