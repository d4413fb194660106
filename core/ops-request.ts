// Signed operations requests: `logs` and `exec` reach a daemon's copy on any host through
// any agent, so each is signed by an operator key, lives a short while, and is used once.
// The host that runs the copy (the target) checks the request itself; the agent the CLI
// talks to only forwards it. No I/O here: callers pass the time and the trust.

import { randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from './canonical.js'
import { KEY_ID, keyId, publicKeyFromId } from './keys.js'
import { parseDsKey } from './keyspace.js'

/** Longest life of a request (expiresAt - issuedAt): a stolen request is worth little after it. */
export const MAX_REQUEST_LIFETIME_MS = 60_000
/** How far ahead of the target's clock a request may be issued (the operator's clock may run ahead). */
export const MAX_CLOCK_SKEW_MS = 30_000
/** Largest exec command: arguments, and characters per argument. */
export const MAX_EXEC_ARGS = 256
export const MAX_EXEC_ARG_CHARS = 4096
/** Characters of an exec command in all: a request is one stream frame. */
export const MAX_EXEC_COMMAND_CHARS = 64 * 1024
/** Largest --tail; kubectl has none, but a target reads no more than this many lines back. */
export const MAX_TAIL_LINES = 100_000
/** Longest --since: 30 days. */
export const MAX_SINCE_SECONDS = 30 * 24 * 3600

const logsParams = z
  .object({
    follow: z.boolean(),
    tail: z.number().int().min(0).max(MAX_TAIL_LINES).optional(),
    sinceSeconds: z.number().int().min(1).max(MAX_SINCE_SECONDS).optional(),
    previous: z.boolean(),
    timestamps: z.boolean(),
  })
  .strict()

const execParams = z
  .object({
    command: z
      .array(z.string().max(MAX_EXEC_ARG_CHARS))
      .min(1)
      .max(MAX_EXEC_ARGS)
      .refine((c) => c.reduce((a, x) => a + x.length, 0) <= MAX_EXEC_COMMAND_CHARS, `at most ${MAX_EXEC_COMMAND_CHARS} characters in all`),
    stdin: z.boolean(),
    tty: z.boolean(),
  })
  .strict()

/** opsRequestSchema is the shape of a signed request from outside (API body, stream frame). */
export const opsRequestSchema = z
  .object({
    kind: z.enum(['logs', 'exec']),
    /** The DaemonSet, `NAMESPACE/NAME`. */
    ds: z.string().max(317).refine((k) => parseDsKey(k) !== undefined, 'a DaemonSet as NAMESPACE/NAME'),
    /** The host whose copy is meant; `*` (logs only): every host that runs one. */
    node: z.string().min(1).max(253).regex(/^(\*|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/, 'a node name or *'),
    /** The container of the pod template; default its first. */
    container: z.string().min(1).max(63).regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'a container name').optional(),
    logs: logsParams.optional(),
    exec: execParams.optional(),
    /** Wall times, ms since the epoch. */
    issuedAt: z.number().int().min(0),
    expiresAt: z.number().int().min(0),
    /** 16 random bytes, base64url: the target refuses a nonce it has seen before it expires. */
    nonce: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
    author: z.string().regex(KEY_ID),
    sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  })
  .strict()
  .refine((r) => (r.kind === 'logs' ? r.logs !== undefined && r.exec === undefined : r.exec !== undefined && r.logs === undefined), { message: 'a logs request carries logs, an exec request exec', path: ['kind'] })
  .refine((r) => r.kind === 'logs' || r.node !== '*', { message: 'exec names one node', path: ['node'] })

export type OpsRequest = z.infer<typeof opsRequestSchema>
export type LogsParams = z.infer<typeof logsParams>
export type ExecParams = z.infer<typeof execParams>
export type UnsignedOpsRequest = Omit<OpsRequest, 'issuedAt' | 'expiresAt' | 'nonce' | 'author' | 'sig'>

/** Why a request is refused; callers branch on `reason`. */
export type OpsRefusal = 'malformed' | 'lifetime' | 'expired' | 'future' | 'signature' | 'untrusted' | 'replayed' | 'busy'

/** OpsRequestError is thrown when a request is refused; `reason` says why. */
export class OpsRequestError extends Error {
  override readonly name = 'OpsRequestError'
  readonly reason: OpsRefusal
  constructor(reason: OpsRefusal, message: string) {
    super(message)
    this.reason = reason
  }
}

const DOMAIN = 'daemonmesh/ops-request/v1\n'

/** signingBytes returns the exact bytes a request's signature covers. */
function signingBytes(r: Omit<OpsRequest, 'sig'>): Buffer {
  const { sig: _sig, ...rest } = r as OpsRequest
  return Buffer.from(DOMAIN + canonicalJson(rest))
}

/** signOpsRequest signs `req` with an operator key, issued at `now` and living `lifetimeMs` (at most MAX_REQUEST_LIFETIME_MS). */
export function signOpsRequest(req: UnsignedOpsRequest, privateKey: KeyObject, now: number, lifetimeMs = MAX_REQUEST_LIFETIME_MS): OpsRequest {
  const unsigned = { ...req, issuedAt: now, expiresAt: now + Math.min(lifetimeMs, MAX_REQUEST_LIFETIME_MS), nonce: randomBytes(16).toString('base64url'), author: keyId(privateKey) }
  const plain = JSON.parse(canonicalJson(unsigned)) as Omit<OpsRequest, 'sig'>
  return { ...plain, sig: sign(null, signingBytes(plain), privateKey).toString('base64url') }
}

/**
 * checkOpsRequest returns the request when, at wall time `now`:
 *  1. its shape and bounds hold (malformed);
 *  2. it lives at most MAX_REQUEST_LIFETIME_MS (lifetime);
 *  3. it has not expired (expired) and was not issued more than MAX_CLOCK_SKEW_MS ahead (future);
 *  4. its signature is its author's (signature);
 *  5. its author is a trusted operator key (untrusted).
 * Otherwise it throws OpsRequestError. That it was not used before is the NonceBook's.
 */
export function checkOpsRequest(input: unknown, now: number, trusts: (author: string) => boolean): OpsRequest {
  const res = opsRequestSchema.safeParse(input)
  if (!res.success) {
    const first = res.error.issues[0]
    throw new OpsRequestError('malformed', `malformed request: ${first === undefined ? 'invalid' : `${first.path.join('.') || 'request'}: ${first.message}`}`)
  }
  const r = res.data
  if (r.expiresAt <= r.issuedAt || r.expiresAt - r.issuedAt > MAX_REQUEST_LIFETIME_MS) throw new OpsRequestError('lifetime', `the request must live at most ${MAX_REQUEST_LIFETIME_MS / 1000}s`)
  if (now >= r.expiresAt) throw new OpsRequestError('expired', `the request expired ${Math.ceil((now - r.expiresAt) / 1000)}s ago (check the clocks, or sign a new one)`)
  if (r.issuedAt > now + MAX_CLOCK_SKEW_MS) throw new OpsRequestError('future', 'the request was issued in the future (check the clocks)')
  let ok = false
  try {
    ok = verify(null, signingBytes(r), publicKeyFromId(r.author), Buffer.from(r.sig, 'base64url'))
  } catch {
    ok = false
  }
  if (!ok) throw new OpsRequestError('signature', 'bad signature on the request')
  if (!trusts(r.author)) throw new OpsRequestError('untrusted', `author ${r.author} is not a trusted operator key here`)
  return r
}

/**
 * NonceBook remembers the nonces of the requests a target accepted until they expire, so
 * that each is used once. It holds at most `max` live nonces; when full, new requests are
 * refused (busy) until some expire: a flood of valid requests cannot grow it without bound.
 */
export class NonceBook {
  private readonly seen = new Map<string, number>()
  private readonly max: number

  constructor(max = 10_000) {
    this.max = max
  }

  /** use records the request's nonce at wall time `now`; throws OpsRequestError (replayed, busy) when it cannot. */
  use(r: Pick<OpsRequest, 'nonce' | 'expiresAt'>, now: number): void {
    if (this.seen.has(r.nonce)) throw new OpsRequestError('replayed', 'the request was used already (sign a new one)')
    if (this.seen.size >= this.max) {
      for (const [n, exp] of this.seen) if (exp <= now) this.seen.delete(n)
      if (this.seen.size >= this.max) throw new OpsRequestError('busy', 'too many recent requests; try again shortly')
    }
    // Past its expiry the request is refused as expired: its nonce need not be kept longer.
    this.seen.set(r.nonce, r.expiresAt)
  }

  get size(): number {
    return this.seen.size
  }
}
