// The fleet secret key on an agent: read once at start; the default file is created when
// missing (never overwritten). The key opens only the Secrets of pods this host runs
// (reconciler, file refresher); it is never logged, and only its id is shown.

import { readFile, writeFile } from 'node:fs/promises'
import { generateSecretKey, parseSecretKey, type SecretKey } from '../core/secret-box.js'

/**
 * loadSecretKey reads the secret key file at `path` (`none`: no key, undefined); with
 * `create`, writes a new one (mode 0600) when the file does not exist. Throws naming the
 * file when it cannot be read or is malformed.
 */
export async function loadSecretKey(path: string, create: boolean): Promise<{ key?: SecretKey; created: boolean }> {
  if (path === 'none') return { created: false }
  let text: string
  let created = false
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw new Error(`secret key ${path}: ${(err as Error).message}`)
    text = generateSecretKey()
    try {
      await writeFile(path, text, { mode: 0o600, flag: 'wx' })
      created = true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`secret key ${path}: ${(e as Error).message}`)
      text = await readFile(path, 'utf8') // made meanwhile by another process: use it, never overwrite
    }
  }
  try {
    return { key: parseSecretKey(text), created }
  } catch (err) {
    throw new Error(`secret key ${path}: ${(err as Error).message}`)
  }
}
