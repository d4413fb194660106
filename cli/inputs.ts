// Reading manifest inputs as kubectl does: `-f FILE`, `-f DIR` (its .yaml/.yml/.json
// files, sorted) or `-f -` (standard input). Repeatable.

import { readFile, readdir, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { CliError } from './errors.js'

export interface Input {
  source: string
  text: string
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json'])

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** readInputs reads every `-f` argument; throws CliError naming the path at fault. */
export async function readInputs(paths: readonly string[], flag = '-f'): Promise<Input[]> {
  if (paths.length === 0) throw new CliError(`${flag} is required: give a file, a directory or - for standard input`, 2)
  const out: Input[] = []
  for (const p of paths) {
    if (p === '-') {
      out.push({ source: '<stdin>', text: await readStdin() })
      continue
    }
    let info
    try {
      info = await stat(p)
    } catch {
      throw new CliError(`${flag} ${p}: no such file or directory`)
    }
    if (info.isDirectory()) {
      const names = (await readdir(p)).filter((n) => MANIFEST_EXTENSIONS.has(extname(n))).sort()
      if (names.length === 0) throw new CliError(`${flag} ${p}: the directory holds no .yaml, .yml or .json file`)
      for (const n of names) out.push({ source: join(p, n), text: await readFile(join(p, n), 'utf8') })
    } else {
      out.push({ source: p, text: await readFile(p, 'utf8') })
    }
  }
  return out
}
