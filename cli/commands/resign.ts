// `daemonmesh resign --from OLDKEY`: re-sign with the current operator key every entry the
// old key signed (DaemonSets, histories, ConfigMaps, overlays, requests), so the old key can
// then be revoked without dropping what it signed. Each entry is written again with the same
// value, superseding the old one; the old key's deletes stay as they are (a tombstone
// outlives its author's trust). Through the API only, as every CLI write.

import { readFile } from 'node:fs/promises'
import type { Envelope } from '../../core/envelope.js'
import { isKeyId, parsePublicKey } from '../../core/keys.js'
import { call, type AgentTarget } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { loadOperatorKey, signedWriteFor } from '../signer.js'

export interface ResignOptions {
  from?: string
  key?: string
}

/** keyIdOf reads `--from`: a key id, or a public (or private) key file. */
async function keyIdOf(from: string): Promise<string> {
  if (isKeyId(from)) return from
  try {
    return parsePublicKey(await readFile(from, 'utf8'))
  } catch (err) {
    throw new UsageError(`--from ${from}: ${(err as Error).message}`)
  }
}

/** runResign lists the live entries `--from` signed (as the agent holds them) and writes each again signed by `--key`. */
export async function runResign(opts: ResignOptions, target: AgentTarget, out: NodeJS.WritableStream): Promise<void> {
  if (opts.from === undefined) throw new UsageError('resign: give the old key with --from FILE|KEYID')
  const old = await keyIdOf(opts.from)
  const privateKey = loadOperatorKey(opts.key)
  const { items } = await call<{ items: Envelope[] }>(target, 'GET', `/v1/envelopes?author=${encodeURIComponent(old)}`)
  let done = 0
  for (const env of items) {
    try {
      await call(target, 'POST', '/v1/envelopes', await signedWriteFor(target, env.key, env.value, env, privateKey))
      done++
    } catch (err) {
      throw new CliError(`resign ${env.key}: ${(err as Error).message} (${done} of ${items.length} re-signed)`)
    }
  }
  out.write(`${done} entr${done === 1 ? 'y' : 'ies'} re-signed (were signed by ${old})\n`)
}
