// The join token this host joins with (`--join-token FILE`, made by `daemonmesh token
// create`) and when it first joined with it, kept in DATADIR/join.json so that a restart
// after the token expired still presents a join made in time.

import { readFile, writeFile } from 'node:fs/promises'
import { join as joinPath } from 'node:path'
import { z } from 'zod'
import { joinTokenSchema, type Join } from '../core/node-admission.js'

const joinedSchema = z.object({ id: z.string().max(64), joinedAt: z.number().int().min(0) }).strict()

/** loadJoin reads the token file and the time this host first joined with it (now, recorded, on first use); throws naming the file. */
export async function loadJoin(tokenFile: string, dataDir: string, now: number): Promise<Join> {
  let token
  try {
    const parsed = joinTokenSchema.safeParse(JSON.parse(await readFile(tokenFile, 'utf8')))
    if (!parsed.success) throw new Error(`not a join token: ${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? ''}`)
    token = parsed.data
  } catch (err) {
    throw new Error(`joinToken ${tokenFile}: ${(err as Error).message}`)
  }
  const file = joinPath(dataDir, 'join.json')
  const before = joinedSchema.safeParse(JSON.parse(await readFile(file, 'utf8').catch(() => 'null'))).data
  if (before?.id === token.id) return { token, joinedAt: before.joinedAt }
  await writeFile(file, JSON.stringify({ id: token.id, joinedAt: now }), { mode: 0o600 })
  return { token, joinedAt: now }
}
