// Signing operator writes: loads the operator key and stamps envelopes with a timestamp
// after the current version of the key, so a write always supersedes what it replaces
// even when this machine's clock is behind.

import { existsSync, readFileSync } from 'node:fs'
import type { KeyObject } from 'node:crypto'
import { resolve } from 'node:path'
import { checkClusterId, signEnvelope, type Envelope } from '../core/envelope.js'
import { decodeTimestamp, type Timestamp } from '../core/hlc.js'
import { parsePrivateKey } from '../core/keys.js'
import { ApiError, call, type AgentTarget } from './client.js'
import { CliError } from './errors.js'

/** loadOperatorKey reads --key, else $DAEMONMESH_KEY, else ./.daemonmesh/operator.key when present. */
export function loadOperatorKey(flag: string | undefined): KeyObject {
  const local = resolve('.daemonmesh/operator.key')
  const path = flag ?? process.env.DAEMONMESH_KEY ?? (existsSync(local) ? local : undefined)
  if (path === undefined) throw new CliError('no operator key: pass --key FILE (made by `daemonmesh keygen --out FILE`) or set DAEMONMESH_KEY', 2)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new CliError(`--key ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    return parsePrivateKey(text)
  } catch (err) {
    throw new CliError(`--key ${path}: ${(err as Error).message}`)
  }
}

/** current fetches the envelope now stored under `key`, or undefined. */
export async function current(target: AgentTarget, key: string): Promise<Envelope | undefined> {
  try {
    return await call<Envelope>(target, 'GET', `/v1/envelopes?key=${encodeURIComponent(key)}`)
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined
    throw err
  }
}

/** nextTimestamp is now, or just after `after` when that is ahead of this clock. */
export function nextTimestamp(after: Envelope | undefined): Timestamp {
  const now = { wall: Date.now(), logical: 0 }
  const prev = after === undefined ? undefined : decodeTimestamp(after.hlc)
  if (prev === undefined || prev.wall < now.wall) return now
  return { wall: prev.wall, logical: prev.logical + 1 }
}

/** signedWrite signs value (undefined: a delete, with optional details) for `key`, superseding `prev`; bound to `clusterId` when given. */
export function signedWrite(key: string, value: unknown, prev: Envelope | undefined, privateKey: KeyObject, deleteDetails?: Record<string, unknown>, clusterId?: string): Envelope {
  return signEnvelope(key, value, nextTimestamp(prev), privateKey, deleteDetails, clusterId)
}

/** The cluster id each target reported, asked once per target (an agent's cluster id is fixed while it runs). */
const clusterIds = new WeakMap<AgentTarget, Promise<string | undefined>>()

/**
 * clusterIdOf asks the agent (GET /v1/health) which cluster id it binds writes to: the CLI
 * signs for the cluster of the agent it writes through (reached over its socket, or TLS with
 * a pinned certificate). None: the write is unbound (v1). Asked once per target: a command
 * that writes several entries makes one request for it, not one per entry.
 */
export function clusterIdOf(target: AgentTarget): Promise<string | undefined> {
  let asked = clusterIds.get(target)
  if (asked === undefined) {
    asked = askClusterId(target)
    clusterIds.set(target, asked)
    // A failure is not kept: the command reports it, and a later call asks again.
    asked.catch(() => clusterIds.delete(target))
  }
  return asked
}

async function askClusterId(target: AgentTarget): Promise<string | undefined> {
  const { clusterId } = await call<{ clusterId?: unknown }>(target, 'GET', '/v1/health')
  if (clusterId === undefined) return undefined
  if (typeof clusterId !== 'string' || checkClusterId(clusterId) !== undefined) throw new CliError(`agent ${target.address} reports an invalid cluster id`)
  return clusterId
}

/**
 * currentForWrite is current() for a key about to be written: the agent's cluster id, which
 * the signature needs, is asked for beside it, so the two cost one round trip, not two (on
 * a busy host each request waits for the agent's event loop).
 */
export async function currentForWrite(target: AgentTarget, key: string): Promise<Envelope | undefined> {
  const [prev] = await Promise.all([current(target, key), clusterIdOf(target)])
  return prev
}

/** signedWriteFor is signedWrite for the cluster of the agent at `target`. */
export async function signedWriteFor(target: AgentTarget, key: string, value: unknown, prev: Envelope | undefined, privateKey: KeyObject, deleteDetails?: Record<string, unknown>): Promise<Envelope> {
  return signedWrite(key, value, prev, privateKey, deleteDetails, await clusterIdOf(target))
}
