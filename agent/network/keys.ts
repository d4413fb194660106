// The agent's libp2p identity and the cluster pre-shared key, read from (or created in)
// the data directory. Only agent/network knows libp2p key formats.

import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { generateClusterKey, isClusterKey } from '../../core/keys.js'

/** loadOrCreatePeerKey reads the peer key at `path`, creating it (mode 0600) on first start. */
export async function loadOrCreatePeerKey(path: string): Promise<{ key: PrivateKey; created: boolean }> {
  try {
    // @libp2p/crypto's own @libp2p/interface copy differs only in types from libp2p's.
    return { key: privateKeyFromProtobuf(await readFile(path)) as unknown as PrivateKey, created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`peer key ${path}: ${(err as Error).message}`)
  }
  const key = (await generateKeyPair('Ed25519')) as unknown as PrivateKey
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  return { key, created: true }
}

/** nodeSigningKey turns the libp2p Ed25519 key into a node:crypto key for signing envelopes. */
export function nodeSigningKey(key: PrivateKey): KeyObject {
  if (key.type !== 'Ed25519') throw new Error(`peer key type ${key.type} is not Ed25519`)
  const raw = key.raw // 64 bytes: 32-byte seed then 32-byte public key
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(raw.subarray(0, 32)).toString('base64url'), x: Buffer.from(raw.subarray(32, 64)).toString('base64url') },
    format: 'jwk',
  })
}

/** keyIdOfPeerPublicKey returns the envelope author id (base64url raw key) of a peer's Ed25519 public key. */
export function keyIdOfPeerPublicKey(raw: Uint8Array): string {
  return Buffer.from(raw).toString('base64url')
}

/** peerIdOfKeyId returns the libp2p peer id of a node key id (a node signs with its peer key), or undefined when it is not an Ed25519 key. */
export function peerIdOfKeyId(keyId: string): string | undefined {
  try {
    return peerIdFromPublicKey(publicKeyFromRaw(Buffer.from(keyId, 'base64url'))).toString()
  } catch {
    return undefined
  }
}


/**
 * loadClusterKey reads a libp2p pre-shared key file; with `create`, writes a new one
 * (mode 0600) when the file does not exist. Throws naming the file when it is malformed.
 */
export async function loadClusterKey(path: string, create: boolean): Promise<{ psk: Uint8Array; created: boolean }> {
  let text: string
  let created = false
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw new Error(`cluster key ${path}: ${(err as Error).message}`)
    text = generateClusterKey()
    await writeFile(path, text, { mode: 0o600, flag: 'wx' })
    created = true
  }
  if (!isClusterKey(text)) throw new Error(`cluster key ${path}: not a pre-shared key file (make one with \`daemonmesh keygen --cluster --out FILE\`)`)
  return { psk: new TextEncoder().encode(text.endsWith('\n') ? text : `${text}\n`), created }
}
