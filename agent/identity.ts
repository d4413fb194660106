// The operator keys an agent trusts: from the configuration (key files or key ids), or,
// when none is configured, a key made beside the data so that a newcomer can write at once.

import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { generateKeyPair, isKeyId, parsePublicKey } from '../core/keys.js'
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
  // No operator key configured: make one beside the data so a newcomer can write at once.
  const priv = join(config.dataDir, 'operator.key')
  try {
    return [parsePublicKey(await readFile(`${priv}.pub`, 'utf8'))]
  } catch {
    const pair = generateKeyPair()
    await writeFile(priv, pair.privateKeyPem, { mode: 0o600 })
    await writeFile(`${priv}.pub`, pair.publicKeyPem, { mode: 0o644 })
    log.warn({ key: priv }, 'no trusted operator key configured (--trust): generated one; sign writes with --key ' + priv)
    return [pair.id]
  }
}
