import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { demux } from '../../../../agent/runtime/demux.js'
import type { OutputChunk } from '../../../../agent/runtime/runtime.js'

const frame = (type: number, text: string): Buffer => {
  const body = Buffer.from(text)
  const head = Buffer.alloc(8)
  head[0] = type
  head.writeUInt32BE(body.length, 4)
  return Buffer.concat([head, body])
}

async function* pieces(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

const collect = async (it: AsyncIterable<OutputChunk>): Promise<[string, string][]> => {
  const out: [string, string][] = []
  for await (const c of it) {
    const last = out.at(-1)
    if (last !== undefined && last[0] === c.stream) last[1] += Buffer.from(c.data).toString()
    else out.push([c.stream, Buffer.from(c.data).toString()])
  }
  return out
}

describe('Docker output demultiplexing', () => {
  const stream = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, 'out two\n')])

  for (const size of [1, 3, 8, 9, 1000]) {
    it(`frames split in pieces of ${size} bytes come out whole, each on its stream`, async () => {
      assert.deepEqual(await collect(demux(pieces(stream, size), false, 1024)), [['stdout', 'out one\n'], ['stderr', 'err\n'], ['stdout', 'out two\n']])
    })
  }

  it('no chunk is larger than the bound', async () => {
    const big = frame(1, 'x'.repeat(100))
    for await (const c of demux(pieces(big, 1000), false, 16)) assert.ok(c.data.length <= 16)
  })

  it('a TTY\'s output is raw stdout', async () => {
    assert.deepEqual(await collect(demux(pieces(Buffer.from('plain\n'), 2), true, 1024)), [['stdout', 'plain\n']])
  })
})
