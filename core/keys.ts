// ed25519 keys (node:crypto): operator keys sign cluster-wide writes; node keys sign
// node records. A key's id is its raw 32-byte public key in base64url. No I/O here:
// callers read and write the PEM text.

import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto'
import { SignatureError } from './errors.js'

/**
 * KEY_ID matches the shape of a key id: 32 bytes in unpadded base64url. The one copy of
 * this pattern; schemas use it as `z.string().regex(KEY_ID)`, other code calls isKeyId.
 */
export const KEY_ID = /^[A-Za-z0-9_-]{43}$/

/** KeyPair holds an ed25519 key pair as PEM text and the public key's id. */
export interface KeyPair {
  privateKeyPem: string
  publicKeyPem: string
  id: string
}

/** generateKeyPair makes a new ed25519 operator key pair. */
export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    id: keyId(publicKey),
  }
}

/** keyId returns the id (base64url raw public key) of an ed25519 public or private key. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const jwk = pub.export({ format: 'jwk' })
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new SignatureError('not an ed25519 key')
  return jwk.x
}

/** isKeyId reports whether text has the shape of a key id. */
export function isKeyId(text: string): boolean {
  return KEY_ID.test(text)
}

/** Public keys rebuilt from ids, kept because every envelope check needs one (bounded). */
const publicKeys = new Map<string, KeyObject>()
const MAX_CACHED_KEYS = 4096

/** publicKeyFromId rebuilds a public key from its id; throws SignatureError when malformed. */
export function publicKeyFromId(id: string): KeyObject {
  const cached = publicKeys.get(id)
  if (cached !== undefined) return cached
  if (!isKeyId(id)) throw new SignatureError(`malformed key id "${id.slice(0, 64)}"`)
  let key: KeyObject
  try {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' })
  } catch {
    throw new SignatureError(`malformed key id "${id}"`)
  }
  if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.clear()
  publicKeys.set(id, key)
  return key
}

/** parsePrivateKey reads an ed25519 private key from PEM; throws SignatureError otherwise. */
export function parsePrivateKey(pem: string): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (err) {
    throw new SignatureError(`not a private key: ${(err as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SignatureError(`not an ed25519 key (${String(key.asymmetricKeyType)})`)
  return key
}

/** parsePublicKey reads an ed25519 public key from PEM or from its id; returns the id. */
export function parsePublicKey(text: string): string {
  const trimmed = text.trim()
  if (isKeyId(trimmed)) return keyId(publicKeyFromId(trimmed))
  let key: KeyObject
  try {
    key = createPublicKey(trimmed)
  } catch (err) {
    throw new SignatureError(`not a public key: ${(err as Error).message}`)
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SignatureError(`not an ed25519 key (${String(key.asymmetricKeyType)})`)
  return keyId(key)
}

/** isClusterKey says whether `text` is a libp2p pre-shared key file (what generateClusterKey writes). */
export function isClusterKey(text: string): boolean {
  return /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-fA-F]{64}\n?$/.test(text)
}

/** generateClusterKey returns a libp2p pre-shared key file (the `/key/swarm/psk/1.0.0/` format). */
export function generateClusterKey(): string {
  return `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}\n`
}
