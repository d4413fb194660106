// `daemonmesh fingerprint`: the SHA-256 fingerprint of an agent's API certificate, read from
// its data directory (DATADIR/api.crt) on the agent's host, to pin with `--fingerprint`.

import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { CliError } from '../errors.js'

export interface FingerprintOptions {
  dataDir?: string
  cert?: string
}

/** runFingerprint prints the certificate's fingerprint as `--fingerprint` takes it. */
export async function runFingerprint(opts: FingerprintOptions, out: NodeJS.WritableStream): Promise<void> {
  const path = opts.cert ?? join(resolve(opts.dataDir ?? '.daemonmesh'), 'api.crt')
  let pem: string
  try {
    pem = await readFile(path, 'utf8')
  } catch (err) {
    throw new CliError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (the agent makes it on its first start with an https:// API)' : (err as Error).message}`)
  }
  try {
    out.write(`${new X509Certificate(pem).fingerprint256}\n`)
  } catch (err) {
    throw new CliError(`${path}: not a certificate: ${(err as Error).message}`)
  }
}
