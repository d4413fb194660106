// The fleet secret key and the sealing of Secret data with it: AES-256-GCM (authenticated),
// a fresh 96-bit nonce per seal, the Secret's store key (`secret/NAMESPACE/NAME`) as
// associated data, so a sealed value moved under another name does not open. The key is
// distinct from the cluster key: a leaked cluster key reveals no Secret. Computation only;
// reading the key file is the caller's (agent/secret-key.ts, cli/secret-key.ts).

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'

/** SECRET_KEY_BYTES: AES-256 takes a 32-byte key. */
export const SECRET_KEY_BYTES = 32
const NONCE_BYTES = 12
const TAG_BYTES = 16

/** SecretKey is a loaded fleet secret key: its bytes and its id (shown, never secret). */
export interface SecretKey {
  readonly bytes: Buffer
  /** 16 hex digits of SHA-256 over a label and the key: tells keys apart without revealing them. */
  readonly id: string
}

/** Sealed is Secret data as stored and sent: only the key id is readable. */
export interface Sealed {
  /** The id of the secret key that sealed it. */
  keyId: string
  /** base64 of nonce (12 bytes) || ciphertext || GCM tag (16 bytes). */
  box: string
}

/** SecretKeyError is thrown when sealed data cannot be opened: another key, or data altered or moved. */
export class SecretKeyError extends Error {
  override readonly name = 'SecretKeyError'
}

const KEY_FILE = /^[A-Za-z0-9+/]{43}=\n?$/

/** generateSecretKey returns the text of a new secret key file: 32 random bytes, base64, one line. */
export function generateSecretKey(): string {
  return `${randomBytes(SECRET_KEY_BYTES).toString('base64')}\n`
}

/** parseSecretKey reads a secret key file's text (32 bytes, base64, one line); throws saying what is wrong. */
export function parseSecretKey(text: string): SecretKey {
  if (!KEY_FILE.test(text)) throw new SecretKeyError('not a secret key file: 32 bytes in base64 on one line (make one with `daemonmesh keygen --secret --out FILE`)')
  const bytes = Buffer.from(text.trim(), 'base64')
  return { bytes, id: createHash('sha256').update('daemonmesh secret key\n').update(bytes).digest('hex').slice(0, 16) }
}

/** seal encrypts `plain` under `key`, bound to `context` (the store key of the Secret). */
export function seal(plain: Buffer, key: SecretKey, context: string): Sealed {
  const nonce = randomBytes(NONCE_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(Buffer.from(context, 'utf8'))
  const body = Buffer.concat([cipher.update(plain), cipher.final()])
  return { keyId: key.id, box: Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64') }
}

/**
 * open decrypts sealed data under `key` for `context`; throws SecretKeyError when it was
 * sealed with another key, or was altered, or was sealed for another context.
 */
export function open(sealed: Sealed, key: SecretKey, context: string): Buffer {
  if (sealed.keyId !== key.id) throw new SecretKeyError(`sealed with secret key ${sealed.keyId}; this host has ${key.id}`)
  const raw = Buffer.from(sealed.box, 'base64')
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw new SecretKeyError('sealed data too short')
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, raw.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES })
  decipher.setAAD(Buffer.from(context, 'utf8'))
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
  try {
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()])
  } catch {
    throw new SecretKeyError(`sealed data does not authenticate for ${context} (altered, or sealed for another Secret)`)
  }
}
