// The fleet secret key on the operator's side: `apply` and `create secret` seal Secret data
// with it before anything leaves this process, and compare with what is stored by opening it.

import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseSecretKey, type SecretKey } from '../core/secret-box.js'
import { CliError } from './errors.js'

/** loadSecretKey reads --secret-key, else $DAEMONMESH_SECRET_KEY, else ./.daemonmesh/secret.key when present. */
export function loadSecretKey(flag: string | undefined): SecretKey {
  const local = resolve('.daemonmesh/secret.key')
  const path = flag ?? process.env.DAEMONMESH_SECRET_KEY ?? (existsSync(local) ? local : undefined)
  if (path === undefined) throw new CliError('no secret key: Secrets are sealed with the fleet secret key; pass --secret-key FILE (the agents\' secretKey file, made by `daemonmesh keygen --secret --out FILE`) or set DAEMONMESH_SECRET_KEY', 2)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new CliError(`--secret-key ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  try {
    return parseSecretKey(text)
  } catch (err) {
    throw new CliError(`--secret-key ${path}: ${(err as Error).message}`)
  }
}
