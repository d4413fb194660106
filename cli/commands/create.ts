// `daemonmesh create configmap NAME --from-literal K=V --from-file [KEY=]PATH`: build a
// ConfigMap as kubectl does, check it by the rules every agent applies, and write it
// signed; an existing one is an error (use apply to change it), as kubectl says.

import { readFile, readdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { TextDecoder } from 'node:util'
import { configKeyProblem, parseConfigMap, type ConfigMap } from '../../core/configmap.js'
import { formatIssue } from '../../core/errors.js'
import { StoreKey, dsRef } from '../../core/keyspace.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { current, loadOperatorKey, signedWrite } from '../signer.js'

export interface CreateConfigMapOptions {
  namespace?: string
  key?: string
  fromLiteral?: string[]
  fromFile?: string[]
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** addEntry puts one key in data (UTF-8 text) or binaryData (anything else), refusing a bad or repeated key. */
function addEntry(cm: ConfigMap, key: string, content: Buffer, from: string): void {
  const bad = configKeyProblem(key)
  if (bad !== undefined) throw new UsageError(`${from}: "${key}" is not a valid key name: ${bad}`)
  if (cm.data?.[key] !== undefined || cm.binaryData?.[key] !== undefined) throw new UsageError(`${from}: cannot add key "${key}", another key by that name already exists`)
  try {
    ;(cm.data ??= {})[key] = utf8.decode(content)
  } catch {
    ;(cm.binaryData ??= {})[key] = content.toString('base64')
  }
}

/**
 * buildConfigMap makes the ConfigMap kubectl would: each `--from-literal K=V` a key; each
 * `--from-file PATH` a key named after the file (or `KEY=PATH`); a directory gives one key
 * per regular file in it whose name is a valid key (as kubectl, others are passed over).
 */
export async function buildConfigMap(name: string, opts: CreateConfigMapOptions): Promise<ConfigMap> {
  const cm: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: opts.namespace ?? 'default' } }
  for (const lit of opts.fromLiteral ?? []) {
    const eq = lit.indexOf('=')
    if (eq <= 0) throw new UsageError(`--from-literal ${lit}: use KEY=VALUE`)
    addEntry(cm, lit.slice(0, eq), Buffer.from(lit.slice(eq + 1)), '--from-literal')
  }
  for (const spec of opts.fromFile ?? []) {
    const eq = spec.indexOf('=')
    const [key, path] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [undefined, spec]
    const s = await stat(path).catch(() => undefined)
    if (s === undefined) throw new UsageError(`--from-file ${path}: no such file or directory`)
    if (s.isDirectory()) {
      if (key !== undefined) throw new UsageError(`--from-file ${spec}: a key cannot name a directory`)
      for (const f of (await readdir(path)).sort()) {
        if (configKeyProblem(f) === undefined && (await stat(join(path, f))).isFile()) addEntry(cm, f, await readFile(join(path, f)), `--from-file ${path}`)
      }
    } else {
      addEntry(cm, key ?? basename(path), await readFile(path), `--from-file ${spec}`)
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
  const prev = await current(target, key)
  if (prev?.op === 'put') throw new CliError(`configmaps "${name}" already exists`)
  const privateKey = loadOperatorKey(opts.key)
  await call(target, 'POST', '/v1/envelopes', signedWrite(key, { ...cm, metadata: { ...cm.metadata, creationTimestamp: new Date().toISOString() } }, prev, privateKey))
  out.write(`configmap/${name} created\n`)
}
