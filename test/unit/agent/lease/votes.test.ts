// A voter's votes on disk (DATADIR/lease.json): what is saved is what is loaded back, a save
// leaves no temporary file behind, and a file damaged on disk is refused, not trusted.

import assert from 'node:assert/strict'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { FileVoteStore } from '../../../../agent/lease/votes.js'
import { tempDir } from '../../../helpers/temp-dir.js'

const hold = { ds: 'default/agent', kind: 'unavailable' as const, slot: 0, holder: 'k1', term: 1795788070, revision: 'b649wr4ksp', grantedAt: 12, acting: true }

describe('FileVoteStore', () => {
  it('loads what it saved last; none saved yet is undefined', async () => {
    const dir = await tempDir('dm-votes-')
    const store = new FileVoteStore(dir)
    assert.equal(await store.load(), undefined)
    await store.save({ holds: [hold], terms: { 'default/agent|unavailable|0': 1795788070 } })
    await store.save({ holds: [], terms: { 'default/agent|unavailable|0': 1795788071 } })
    assert.deepEqual(await store.load(), { holds: [], terms: { 'default/agent|unavailable|0': 1795788071 } })
    assert.deepEqual(await readdir(dir), ['lease.json'])
  })

  it('refuses a damaged file', async () => {
    const dir = await tempDir('dm-votes-')
    await writeFile(join(dir, 'lease.json'), JSON.stringify({ holds: [{ ...hold, holder: 'x'.repeat(65) }] }))
    await assert.rejects(new FileVoteStore(dir).load())
  })
})
