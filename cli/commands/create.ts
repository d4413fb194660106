// `daemonmesh create configmap NAME --from-literal K=V --from-file [KEY=]PATH`: build a
// ConfigMap as kubectl does, check it by the rules every agent applies, and write it
// signed; an existing one is an error (use apply to change it), as kubectl says.

import { readFile, readdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { TextDecoder } from 'node:util'
import { parseConfigMap, type ConfigMap } from '../../core/configmap.js'
import { configKeyProblem } from '../../core/object-meta.js'
import { formatIssue } from '../../core/errors.js'
import { StoreKey, dsRef } from '../../core/keyspace.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { currentForWrite, loadOperatorKey, signedWriteFor } from '../signer.js'

export interface CreateConfigMapOptions {
  namespace?: string
  key?: string
  fromLiteral?: string[]
  fromFile?: string[]
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Entry is one key read from `--from-literal` or `--from-file`, with the flag it came from. */
export interface Entry {
  key: string
  content: Buffer
  from: string
}

/**
 * readEntries reads the keys kubectl's `create configmap` and `create secret generic` take:
 * each `--from-literal K=V` a key; each `--from-file PATH` a key named after the file (or
 * `KEY=PATH`); a directory gives one key per regular file in it whose name is a valid key
 * (as kubectl, others are passed over). A bad or repeated key is refused.
 */
export async function readEntries(fromLiteral: readonly string[], fromFile: readonly string[]): Promise<Entry[]> {
  const out: Entry[] = []
  const add = (key: string, content: Buffer, from: string): void => {
    const bad = configKeyProblem(key)
    if (bad !== undefined) throw new UsageError(`${from}: "${key}" is not a valid key name: ${bad}`)
    if (out.some((e) => e.key === key)) throw new UsageError(`${from}: cannot add key "${key}", another key by that name already exists`)
    out.push({ key, content, from })
  }
  for (const lit of fromLiteral) {
    const eq = lit.indexOf('=')
    if (eq <= 0) throw new UsageError(`--from-literal ${lit}: use KEY=VALUE`)
    add(lit.slice(0, eq), Buffer.from(lit.slice(eq + 1)), '--from-literal')
  }
  for (const spec of fromFile) {
    const eq = spec.indexOf('=')
    const [key, path] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [undefined, spec]
    const s = await stat(path).catch(() => undefined)
    if (s === undefined) throw new UsageError(`--from-file ${path}: no such file or directory`)
    if (s.isDirectory()) {
      if (key !== undefined) throw new UsageError(`--from-file ${spec}: a key cannot name a directory`)
      for (const f of (await readdir(path)).sort()) {
        if (configKeyProblem(f) === undefined && (await stat(join(path, f))).isFile()) add(f, await readFile(join(path, f)), `--from-file ${path}`)
      }
    } else {
      add(key ?? basename(path), await readFile(path), `--from-file ${spec}`)
    }
  }
  return out
}

/** buildConfigMap makes the ConfigMap kubectl would from readEntries' keys: UTF-8 content in data, anything else in binaryData. */
export async function buildConfigMap(name: string, opts: CreateConfigMapOptions): Promise<ConfigMap> {
  const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: opts.namespace ?? 'default' } }
  for (const { key, content } of await readEntries(opts.fromLiteral ?? [], opts.fromFile ?? [])) {
    try {
      ;(cm.data ??= {})[key] = utf8.decode(content)
    } catch {
      ;(cm.binaryData ??= {})[key] = content.toString('base64')
    }
  }
  const checked = parseConfigMap(cm)
  if (checked.configMap === undefined) throw new CliError(`configmap "${name}": ${checked.errors.map(formatIssue).join('; ')}`)
  return checked.configMap
}

/** runCreateConfigMap writes a new ConfigMap, signed; refuses one that exists. */
export async function runCreateConfigMap(name: string, opts: CreateConfigMapOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const cm = await buildConfigMap(name, opts)
  const key = StoreKey.configMap(dsRef(cm.metadata.namespace, cm.metadata.name))
  const prev = await currentForWrite(target, key)
  if (prev?.op === 'put') throw new CliError(`configmaps "${name}" already exists`)
  const privateKey = loadOperatorKey(opts.key)
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, { ...cm, metadata: { ...cm.metadata, creationTimestamp: new Date().toISOString() } }, prev, privateKey))
  out.write(`configmap/${name} created\n`)
}
