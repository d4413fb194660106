// `daemonmesh keygen --out FILE`: an operator ed25519 key pair (FILE private, mode 0600;
// FILE.pub public). `--cluster`: a cluster pre-shared key for libp2p pnet. `--secret`: a
// fleet secret key that seals Secrets (core/secret-box.ts).

import { rm, writeFile } from 'node:fs/promises'
import { generateClusterKey, generateKeyPair, generateSecretKey } from '../../core/index.js'
import { CliError, UsageError } from '../errors.js'

export interface KeygenOptions {
  out?: string
  cluster?: boolean
  secret?: boolean
  force?: boolean
}

async function writeNew(path: string, text: string, mode: number, force: boolean): Promise<void> {
  try {
    await writeFile(path, text, { mode, flag: force ? 'w' : 'wx' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw new CliError(`--out ${path}: file exists; pass --force to overwrite it`)
    throw new CliError(`--out ${path}: ${(err as Error).message}`)
  }
}

/** runKeygen writes the key files and prints where they are (and the public key id). */
export async function runKeygen(opts: KeygenOptions, out: NodeJS.WritableStream): Promise<void> {
  if (opts.out === undefined || opts.out === '') throw new UsageError('--out FILE is required')
  const force = opts.force === true
  if (opts.cluster === true && opts.secret === true) throw new UsageError('--cluster and --secret: give one')
  if (opts.secret === true) {
    await writeNew(opts.out, generateSecretKey(), 0o600, force)
    out.write(`secret key written to ${opts.out}\n`)
    return
  }
  if (opts.cluster === true) {
    await writeNew(opts.out, generateClusterKey(), 0o600, force)
    out.write(`cluster key written to ${opts.out}\n`)
    return
  }
  const pair = generateKeyPair()
  await writeNew(opts.out, pair.privateKeyPem, 0o600, force)
  try {
    await writeNew(`${opts.out}.pub`, pair.publicKeyPem, 0o644, force)
  } catch (err) {
    await rm(opts.out, { force: true }) // never leave half a key pair behind
    throw err
  }
  out.write(`private key: ${opts.out}\npublic key:  ${opts.out}.pub\nkey id:      ${pair.id}\n`)
}
