// Where a voter keeps its votes across restarts: VoteStore is the seam, FileVoteStore the
// production one (DATADIR/lease.json, written to a temporary file and renamed, so a crash
// leaves the old votes or the new ones, never half of each), MemoryVoteStore one for tests
// and simulators. Stores only: deciding what to save and when is the Voter's job.

import { renameSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { leaseMessageSchema, type Hold } from '../../core/lease.js'

/** SavedVotes is a voter's table as persisted: its holds and the highest term seen per slot. */
export interface SavedVotes {
  holds: Hold[]
  terms: Record<string, number>
}

const claim = leaseMessageSchema.options[0].shape
/** savedSchema bounds lease.json as read back: a file edited or damaged on disk is refused, not trusted. */
const savedSchema = z
  .object({
    holds: z.array(z.object({ ds: claim.ds, kind: claim.kind, slot: claim.slot, holder: z.string().max(64), term: claim.term, revision: claim.revision, grantedAt: z.number(), acting: z.boolean() }).strict()).max(100_000),
    terms: z.record(z.string().max(400), claim.term),
  })
  .partial()
  .strict()

/** VoteStore keeps a voter's votes. Calls are never concurrent: the Voter chains its saves. */
export interface VoteStore {
  /** load returns the saved votes, undefined when none were ever saved; rejects when they are unreadable. */
  load(): Promise<SavedVotes | undefined>
  /** save replaces the saved votes; resolves once they are durable. */
  save(data: SavedVotes): Promise<void>
}

/** FileVoteStore keeps the votes in `dataDir/lease.json`. */
export class FileVoteStore implements VoteStore {
  readonly file: string

  constructor(dataDir: string) {
    this.file = join(dataDir, 'lease.json')
  }

  /** load returns the votes in the file, or undefined when there is no file. */
  async load(): Promise<SavedVotes | undefined> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const saved = savedSchema.parse(JSON.parse(text))
    return { holds: saved.holds ?? [], terms: saved.terms ?? {} }
  }

  /**
   * save writes the votes to a temporary file, then renames it over the old one; at once, not
   * through libuv's threads: the file is small, and each step of an asynchronous write waited
   * for a busy event loop to come back to it. A voter answers only once its votes are saved,
   * and on the fleet bench's hosts a release took 25-54 ms to save that way, 3-8 ms now
   * (docs/fleet-speed.md).
   */
  async save(data: SavedVotes): Promise<void> {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(data), { mode: 0o600 })
    renameSync(`${this.file}.tmp`, this.file)
  }
}

/** MemoryVoteStore keeps the votes in memory (a copy, as a file would): for tests and simulators. */
export class MemoryVoteStore implements VoteStore {
  private data: string | undefined
  /** saves counts completed saves. */
  saves = 0

  /** load returns a copy of the last saved votes, or undefined. */
  async load(): Promise<SavedVotes | undefined> {
    return this.data === undefined ? undefined : (JSON.parse(this.data) as SavedVotes)
  }

  /** save keeps a copy of `data`. */
  async save(data: SavedVotes): Promise<void> {
    this.data = JSON.stringify(data)
    this.saves++
  }
}
