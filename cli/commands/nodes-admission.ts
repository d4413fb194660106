// Node admission from the CLI: `approve node NAME` (an operator-signed `admission/NAME`
// entry for the key that asks for NAME), `delete node NAME` (its tombstone, naming the key:
// out of membership and every voter set, refused until admitted again), and `token create`
// (a join token, made offline with the operator key: no agent needed).

import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { parseDuration } from '../../core/duration.js'
import { StoreKey, isNodeName } from '../../core/keyspace.js'
import { admissionValueSchema, signJoinToken } from '../../core/node-admission.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { currentForWrite, loadOperatorKey, signedWriteFor } from '../signer.js'

interface NodeItem {
  metadata: { name: string }
  status: { state: string; keyId: string }
}

async function listNodes(target: AgentTarget): Promise<NodeItem[]> {
  return (await call<{ items: NodeItem[] }>(target, 'GET', '/v1/nodes')).items
}

/** runApproveNode admits the key that asks for NAME (the pending one; --key-id when several ask). */
export async function runApproveNode(name: string, opts: { keyId?: string; key?: string }, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  if (!isNodeName(name)) throw new UsageError(`approve node ${name}: not a valid node name`)
  const asking = (await listNodes(target)).filter((n) => n.metadata.name === name)
  const pending = asking.filter((n) => n.status.state === 'Pending')
  let keyId = opts.keyId
  if (keyId === undefined) {
    if (pending.length === 0) throw new CliError(asking.length > 0 ? `node ${name} is already admitted` : `no host asks for the name ${name} (is it running with this cluster key?)`)
    if (pending.length > 1) throw new CliError(`${pending.length} keys ask for the name ${name}: pick one with --key-id (${pending.map((n) => n.status.keyId).join(', ')})`)
    keyId = pending[0]?.status.keyId
  }
  if (keyId === undefined || !admissionValueSchema.safeParse({ keyId }).success) throw new UsageError(`--key-id ${String(keyId)}: not a node key id`)
  const key = loadOperatorKey(opts.key)
  const k = StoreKey.admission(name)
  const env = await signedWriteFor(target, k, { keyId }, await currentForWrite(target, k), key)
  await call(target, 'POST', '/v1/envelopes', env)
  out.write(`node/${name} approved (key ${keyId})\n`)
}

/** runDeleteNode removes NAME's key from membership: a signed tombstone naming the key, refused until admitted again. */
export async function runDeleteNode(names: string[], opts: { key?: string }, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  if (names.length === 0) throw new UsageError('delete node: name the node(s)')
  const key = loadOperatorKey(opts.key)
  const nodes = await listNodes(target)
  for (const name of names) {
    const k = StoreKey.admission(name)
    const prev = await currentForWrite(target, k)
    const bound = prev?.op === 'put' ? admissionValueSchema.safeParse(prev.value).data?.keyId : undefined
    const keyId = bound ?? nodes.find((n) => n.metadata.name === name)?.status.keyId
    if (keyId === undefined) throw new CliError(`nodes "${name}" not found`)
    await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, k, undefined, prev, key, { keyId }))
    out.write(`node/${name} deleted (key ${keyId} refused until approved again)\n`)
  }
}

/** runTokenCreate writes a join token signed by the operator key; no agent is asked. */
export async function runTokenCreate(opts: { ttl?: string; names?: string; uses?: string; out?: string; key?: string; force?: boolean }, out: NodeJS.WritableStream): Promise<void> {
  if (opts.out === undefined) throw new UsageError('--out FILE is required')
  const ttlMs = parseDuration(opts.ttl ?? '24h')
  if (ttlMs === undefined || ttlMs <= 0 || ttlMs > 366 * 86_400_000) throw new UsageError(`--ttl ${opts.ttl}: a duration up to a year, such as 24h`)
  if (opts.names !== undefined && !/^[a-z0-9.*-]{1,253}$/.test(opts.names)) throw new UsageError(`--names ${opts.names}: a node name glob (a-z, 0-9, ".", "-" and "*")`)
  const uses = opts.uses === undefined ? undefined : Number(opts.uses)
  if (uses !== undefined && (!Number.isInteger(uses) || uses < 1 || uses > 1_000_000)) throw new UsageError(`--uses ${opts.uses}: a whole number from 1 to 1000000`)
  const token = signJoinToken({ id: randomBytes(16).toString('base64url'), ...(opts.names === undefined ? {} : { names: opts.names }), ...(uses === undefined ? {} : { uses }), issuedAt: Date.now(), ttlMs }, loadOperatorKey(opts.key))
  try {
    await writeFile(opts.out, `${JSON.stringify(token)}\n`, { mode: 0o600, flag: opts.force === true ? 'w' : 'wx' })
  } catch (err) {
    throw new CliError((err as NodeJS.ErrnoException).code === 'EEXIST' ? `--out ${opts.out}: file exists; pass --force to overwrite it` : `--out ${opts.out}: ${(err as Error).message}`)
  }
  out.write(`join token ${token.id} written to ${opts.out}: valid until ${new Date(token.expires).toISOString()}${token.names === undefined ? '' : ` for names ${token.names}`}${uses === undefined ? '' : `, ${uses} hosts`}\n`)
}
