// The TCP API's TLS identity: a self-signed certificate and its key in the data directory
// (`api.crt`, `api.key`), made on first start with node:crypto and never overwritten. The
// CLI pins the certificate by its SHA-256 fingerprint (`--fingerprint`), so no CA, name or
// expiry check is needed; the certificate is a plain X.509 v1 one (RFC 5280), built here in
// DER because node:crypto can read certificates but not write them.

import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/** The certificate's lifetime: it is pinned, not checked against a CA, so it only has to outlast the host. */
const LIFETIME_YEARS = 30
const SUBJECT = 'daemonmesh-agent'

function der(tag: number, body: Buffer): Buffer {
  const n = body.length
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, body])
}
const seq = (...parts: Buffer[]): Buffer => der(0x30, Buffer.concat(parts))
/** ecdsa-with-SHA256 (1.2.840.10045.4.3.2). */
const ECDSA_SHA256 = seq(Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]))
/** commonName (2.5.4.3). */
const CN = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03])

function name(cn: string): Buffer {
  return seq(der(0x31, seq(CN, der(0x0c, Buffer.from(cn, 'utf8')))))
}

/** time encodes a date as RFC 5280 asks: UTCTime through 2049, GeneralizedTime after. */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2), 'ascii')) : der(0x18, Buffer.from(iso, 'ascii'))
}

/** selfSignedCertificate returns a PEM certificate for `key` (ECDSA P-256), signed by itself, valid from an hour before `now`. */
export function selfSignedCertificate(key: KeyObject, now: Date): string {
  const serial = randomBytes(16)
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01 // positive, and no leading zero byte
  const from = new Date(now.getTime() - 3_600_000)
  const until = new Date(now.getTime())
  until.setUTCFullYear(until.getUTCFullYear() + LIFETIME_YEARS)
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' })
  const tbs = seq(der(0x02, serial), ECDSA_SHA256, name(SUBJECT), seq(time(from), time(until)), name(SUBJECT), spki)
  const signature = sign('sha256', tbs, key)
  const cert = seq(tbs, ECDSA_SHA256, der(0x03, Buffer.concat([Buffer.from([0]), signature])))
  return `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`
}

/** fingerprintOf returns a certificate's SHA-256 fingerprint as `AB:CD:…` (what `--fingerprint` takes). */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256
}

export interface ApiTls {
  key: string
  cert: string
  fingerprint: string
  /** Whether this start made them. */
  created: boolean
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
 * loadOrCreateApiTls reads DATADIR/api.key and api.crt, making what is missing: a new key
 * (mode 0600) and certificate when neither exists, a certificate for the key when only the
 * key does. A certificate without its key is refused (it cannot be served, and is not
 * replaced: remove it to start over). A file is never overwritten (written with `wx`).
 */
export async function loadOrCreateApiTls(dataDir: string, now: Date = new Date()): Promise<ApiTls> {
  const keyPath = join(dataDir, 'api.key')
  const certPath = join(dataDir, 'api.crt')
  let key = await readIfThere(keyPath)
  let cert = await readIfThere(certPath)
  let created = false
  if (key === undefined && cert !== undefined) throw new Error(`${certPath} exists without its key ${keyPath}: remove it to make a new certificate (clients pinned the old one)`)
  if (key === undefined) {
    key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
    await writeFile(keyPath, key, { mode: 0o600, flag: 'wx' })
    created = true
  }
  if (cert === undefined) {
    cert = selfSignedCertificate(createPrivateKey(key), now)
    await writeFile(certPath, cert, { mode: 0o644, flag: 'wx' })
    created = true
  }
  const x = new X509Certificate(cert)
  if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error(`${certPath} does not match ${keyPath}`)
  return { key, cert, fingerprint: x.fingerprint256, created }
}
