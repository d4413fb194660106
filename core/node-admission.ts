// Node admission: which node keys are members. A host is a member once an operator admitted
// its key under its name (an operator-signed `admission/NAME` entry in the store, written by
// `daemonmesh approve node`), or once it presents a valid operator-signed join token (made
// offline by `daemonmesh token create`). `daemonmesh delete node` tombstones the entry and
// names the key: that key is refused until admitted again. Pure: no I/O, no logging; the
// caller says which operator keys it trusts and what time it is.

import { sign, verify, type KeyObject } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from './canonical.js'
import { KEY_ID, keyId, publicKeyFromId } from './keys.js'
import { dns1123Subdomain } from './names.js'

/** admissionValueSchema: what `admission/NAME` holds (put), or names the key deleted (delete). */
export const admissionValueSchema = z.object({ keyId: z.string().regex(KEY_ID) }).strict()

export type AdmissionValue = z.infer<typeof admissionValueSchema>

/** JoinToken is an operator-signed permission for hosts to join without an approval each. */
export interface JoinToken {
  v: 1
  /** Random id: what `uses` are counted by. */
  id: string
  /** Glob of the node names it admits (`*` matches any run of name characters); absent: any name. */
  names?: string
  /** How many node keys it admits across the fleet (the first by join time, then key id); absent: any number. */
  uses?: number
  /** Wall ms: made at, and valid until (a host must have joined in between). */
  issuedAt: number
  expires: number
  /** The operator key that signed it, and the signature. */
  author: string
  sig: string
}

/** joinTokenSchema bounds a token from outside (a file, or a node record). */
export const joinTokenSchema = z
  .object({
    v: z.literal(1),
    id: z.string().regex(/^[A-Za-z0-9_-]{16,43}$/),
    names: z.string().regex(/^[a-z0-9.*-]{1,253}$/, 'a node name glob: a-z, 0-9, ".", "-" and "*"').optional(),
    uses: z.number().int().min(1).max(1_000_000).optional(),
    issuedAt: z.number().int().min(0).max(8.64e15),
    expires: z.number().int().min(0).max(8.64e15),
    author: z.string().regex(KEY_ID),
    sig: z.string().regex(/^[A-Za-z0-9_-]{86}$/),
  })
  .strict()

/** joinSchema is what a node record carries to join with a token: the token and when this host first joined with it (wall ms). */
export const joinSchema = z.object({ token: joinTokenSchema, joinedAt: z.number().int().min(0).max(8.64e15) }).strict()

export type Join = z.infer<typeof joinSchema>

const TOKEN_DOMAIN = 'daemonmesh/join-token/v1\n'

function tokenBytes(t: Omit<JoinToken, 'sig'>): Buffer {
  return Buffer.from(TOKEN_DOMAIN + canonicalJson({ v: t.v, id: t.id, names: t.names, uses: t.uses, issuedAt: t.issuedAt, expires: t.expires, author: t.author }))
}

/** signJoinToken makes a token valid from `issuedAt` for `ttlMs`, signed by `key`. */
export function signJoinToken(fields: { id: string; names?: string; uses?: number; issuedAt: number; ttlMs: number }, key: KeyObject): JoinToken {
  const unsigned: Omit<JoinToken, 'sig'> = {
    v: 1,
    id: fields.id,
    ...(fields.names === undefined ? {} : { names: fields.names }),
    ...(fields.uses === undefined ? {} : { uses: fields.uses }),
    issuedAt: fields.issuedAt,
    expires: fields.issuedAt + fields.ttlMs,
    author: keyId(key),
  }
  return { ...unsigned, sig: sign(null, tokenBytes(unsigned), key).toString('base64url') }
}

/** globMatches says whether a node name matches a token's glob (`*`: any run of name characters, none included). */
export function globMatches(glob: string, name: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.-]/g, (c) => `\\${c}`).replace(/\*/g, '[a-z0-9.-]*')}$`)
  return re.test(name)
}

/**
 * checkJoin says why a join does not admit `name`, or undefined when it does:
 * 1. the token has the right shape and its author is a trusted operator key;
 * 2. its signature is that key's;
 * 3. the host joined within the token's validity (issuedAt <= joinedAt <= expires), and
 *    `now` is past joinedAt (a join from the future is refused);
 * 4. the name matches the token's glob, when it has one.
 * `uses` is counted by the caller (it needs memory of the keys seen).
 */
export function checkJoin(join: unknown, name: string, trusted: (author: string) => boolean, now: number): string | undefined {
  const parsed = joinSchema.safeParse(join)
  if (!parsed.success) return 'malformed join token'
  const { token, joinedAt } = parsed.data
  if (!trusted(token.author)) return 'join token signed by a key that is not trusted' // 1
  let ok = false
  try {
    ok = verify(null, tokenBytes(token), publicKeyFromId(token.author), Buffer.from(token.sig, 'base64url'))
  } catch {
    ok = false
  }
  if (!ok) return 'bad join token signature' // 2
  if (joinedAt < token.issuedAt || joinedAt > token.expires) return 'join token expired' // 3
  if (joinedAt > now + 60_000) return 'join time in the future' // 3
  if (token.names !== undefined && !globMatches(token.names, name)) return `join token is not for the name ${name}` // 4
  return undefined
}

/** AdmissionEntry is the store's `admission/NAME` entry, as plain data. */
export interface AdmissionEntry {
  op: 'put' | 'delete'
  value?: unknown
}

/** Verdict is a node key's standing: a member, waiting for an operator, or deleted (refused). */
export type Verdict = { state: 'admitted'; by: 'operator' | 'token' | 'open' } | { state: 'pending'; why: string } | { state: 'deleted' }

/**
 * judgeNode decides the standing of node key `key` whose record names `name`:
 * 1. `open` admission: every key is a member (labs; today's behaviour);
 * 2. an operator entry for the name binds it to this key: admitted;
 * 3. a key deleted (named by a tombstone) and not admitted again by rule 2: deleted;
 * 4. an operator entry binds the name to another key: pending (the name is taken);
 * 5. a valid join token (tokenOk): admitted;
 * 6. otherwise pending, with the reason.
 */
export function judgeNode(input: { open: boolean; name: string; key: string; entry: AdmissionEntry | undefined; deleted: boolean; token: 'ok' | string | undefined }): Verdict {
  if (input.open) return { state: 'admitted', by: 'open' } // 1
  const bound = input.entry?.op === 'put' ? admissionValueSchema.safeParse(input.entry.value).data?.keyId : undefined
  if (bound === input.key) return { state: 'admitted', by: 'operator' } // 2
  if (input.deleted) return { state: 'deleted' } // 3
  if (bound !== undefined) return { state: 'pending', why: `the name ${input.name} is admitted for another key` } // 4
  if (input.token === 'ok') return { state: 'admitted', by: 'token' } // 5
  return { state: 'pending', why: input.token ?? 'not admitted: daemonmesh approve node ' + input.name } // 6
}

/** isAdmissionName says whether a node name can be an admission key. */
export function isAdmissionName(name: string): boolean {
  return dns1123Subdomain(name).length === 0
}
