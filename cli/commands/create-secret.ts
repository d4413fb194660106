// `daemonmesh create secret generic NAME --from-literal K=V --from-file [KEY=]PATH [--type T]`
// and `create secret docker-registry NAME --docker-server S --docker-username U
// --docker-password P [--docker-email E]`: build the Secret as kubectl does, check it by
// the rules `apply` applies, seal it with the fleet secret key and write it signed. An
// existing Secret is an error (use apply to change it). Values never reach the output.

import { formatIssue } from '../../core/errors.js'
import { StoreKey, dsRef } from '../../core/keyspace.js'
import { DOCKER_CONFIG_JSON, parseSecretManifest, sealSecret, type PlainSecret } from '../../core/secret.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { loadSecretKey } from '../secret-key.js'
import { currentForWrite, loadOperatorKey, signedWriteFor } from '../signer.js'
import { readEntries } from './create.js'

export interface CreateSecretOptions {
  namespace?: string
  key?: string
  secretKey?: string
}

export interface GenericOptions extends CreateSecretOptions {
  type?: string
  fromLiteral?: string[]
  fromFile?: string[]
}

export interface DockerRegistryOptions extends CreateSecretOptions {
  dockerServer?: string
  dockerUsername?: string
  dockerPassword?: string
  dockerEmail?: string
}

/** check runs a built Secret through the manifest rules (the ones `apply` uses). */
function check(name: string, manifest: Record<string, unknown>): PlainSecret {
  const r = parseSecretManifest(manifest)
  if (r.secret === undefined) throw new CliError(`secret "${name}": ${r.errors.map(formatIssue).join('; ')}`)
  return r.secret
}

/** buildGeneric makes the Secret `kubectl create secret generic` would (type Opaque unless --type). */
export async function buildGeneric(name: string, opts: GenericOptions): Promise<PlainSecret> {
  const entries = await readEntries(opts.fromLiteral ?? [], opts.fromFile ?? [])
  const data = Object.fromEntries(entries.map((e) => [e.key, e.content.toString('base64')]))
  return check(name, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: opts.namespace ?? 'default' }, type: opts.type ?? 'Opaque', data })
}

/** buildDockerRegistry makes the Secret `kubectl create secret docker-registry` would: a `.dockerconfigjson` with one `auths` entry. */
export function buildDockerRegistry(name: string, opts: DockerRegistryOptions): PlainSecret {
  const server = opts.dockerServer ?? 'https://index.docker.io/v1/'
  if (opts.dockerUsername === undefined || opts.dockerUsername === '') throw new UsageError('create secret docker-registry: --docker-username is required')
  if (opts.dockerPassword === undefined) throw new UsageError('create secret docker-registry: --docker-password is required')
  const entry: Record<string, string> = {
    username: opts.dockerUsername,
    password: opts.dockerPassword,
    ...(opts.dockerEmail === undefined ? {} : { email: opts.dockerEmail }),
    auth: Buffer.from(`${opts.dockerUsername}:${opts.dockerPassword}`).toString('base64'),
  }
  const json = JSON.stringify({ auths: { [server]: entry } })
  return check(name, { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: opts.namespace ?? 'default' }, type: DOCKER_CONFIG_JSON, data: { '.dockerconfigjson': Buffer.from(json).toString('base64') } })
}

/** writeNewSecret seals and writes a new Secret, signed; refuses one that exists. */
export async function writeNewSecret(plain: PlainSecret, opts: CreateSecretOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  const { name, namespace } = plain.metadata
  const key = StoreKey.secret(dsRef(namespace, name))
  const secretKey = loadSecretKey(opts.secretKey)
  const privateKey = loadOperatorKey(opts.key)
  const sealed = sealSecret({ ...plain, metadata: { ...plain.metadata, creationTimestamp: new Date().toISOString() } }, secretKey)
  if (sealed.secret === undefined) throw new CliError(`secret "${name}": ${sealed.errors.map(formatIssue).join('; ')}`)
  const prev = await currentForWrite(target, key)
  if (prev?.op === 'put') throw new CliError(`secrets "${name}" already exists`)
  await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, key, sealed.secret, prev, privateKey))
  out.write(`secret/${name} created\n`)
}
