// Runs the CLI in-process with captured output. Tests only.

import { Writable } from 'node:stream'
import { main } from '../../cli/main.js'

class Sink extends Writable {
  text = ''
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString()
    cb()
  }
}

/** runCli runs `daemonmesh ARGV` and returns its exit code, stdout and stderr. */
export async function runCli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new Sink()
  const err = new Sink()
  const code = await main(argv, out, err)
  return { code, stdout: out.text, stderr: err.text }
}
