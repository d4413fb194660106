// The operator keys an agent trusts: from the configuration (key files or key ids), or,
// when none is configured, a key made beside the data so that a newcomer can write at once.

import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { generateKeyPair, isKeyId, keyId, parsePublicKey } from '../core/keys.js'
import type { AgentConfig } from './config.js'

/** loadTrust returns the key ids of the trusted operator keys; throws naming the --trust entry at fault. */
/** loadRetired reads the retired operator keys (files or key ids); a bad one is an error naming it. */
export async function loadRetired(config: AgentConfig): Promise<string[]> {
  return Promise.all(
    config.retiredKeys.map(async (t) => {
      if (isKeyId(t)) return parsePublicKey(t)
      try {
        return parsePublicKey(await readFile(t, 'utf8'))
      } catch (err) {
        throw new Error(`--retired-key ${t}: ${(err as Error).message}`)
      }
    }),
  )
}

export async function loadTrust(config: AgentConfig, log: Logger): Promise<string[]> {
  if (config.trust.length > 0) {
    return Promise.all(
      config.trust.map(async (t) => {
        if (isKeyId(t)) return parsePublicKey(t)
        try {
          return parsePublicKey(await readFile(t, 'utf8'))
        } catch (err) {
          throw new Error(`--trust ${t}: ${(err as Error).message}`)
        }
      }),
    )
  }
  // No operator key configured: use the one beside the data, or make it so a newcomer can write at once.
  return [(await loadOrCreateOperatorKey(join(config.dataDir, 'operator.key'), log)).id]
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Error(`${path}: ${(err as Error).message}`)
  }
}

/**
 * loadOrCreateOperatorKey returns the key id of the operator key at `priv` (and `priv.pub`),
 * never overwriting either file:
 * 1. both there: the public key is used, and must be the private key's;
 * 2. only the private key: its public half is written to `priv.pub`;
 * 3. only the public key: it is used (the private key lives elsewhere);
 * 4. neither: a new pair is made (private 0600, written with `wx`, so a file that appears
 *    meanwhile is not replaced). `created` says whether this call made the private key.
 */
export async function loadOrCreateOperatorKey(priv: string, log: Logger): Promise<{ id: string; created: boolean }> {
  const privText = await readIfThere(priv)
  const pubText = await readIfThere(`${priv}.pub`)
  if (privText !== undefined) {
    let key: KeyObject
    try {
      key = createPrivateKey(privText)
    } catch (err) {
      throw new Error(`${priv}: not a private key: ${(err as Error).message}`)
    }
    const id = keyId(key)
    if (pubText === undefined) {
      await writeFile(`${priv}.pub`, createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string, { mode: 0o644, flag: 'wx' })
      log.warn({ key: priv }, `wrote the missing ${priv}.pub from ${priv}`)
    } else if (parsePublicKey(pubText) !== id) throw new Error(`${priv}.pub is not the public key of ${priv}: fix or remove one of them`)
    return { id, created: false }
  }
  if (pubText !== undefined) return { id: parsePublicKey(pubText), created: false }
  const pair = generateKeyPair()
  await writeFile(priv, pair.privateKeyPem, { mode: 0o600, flag: 'wx' })
  await writeFile(`${priv}.pub`, pair.publicKeyPem, { mode: 0o644, flag: 'wx' })
  log.warn({ key: priv }, 'no trusted operator key configured (--trust): generated one; sign writes with --key ' + priv)
  return { id: pair.id, created: true }
}
