// Reading manifest inputs as kubectl does: `-f FILE`, `-f DIR` (its .yaml/.yml/.json
// files, sorted; with `-R` its subdirectories too, each where its name sorts, as
// kubectl's walk does) or `-f -` (standard input). Repeatable.

import { readFile, readdir, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { CliError } from './errors.js'

export interface Input {
  source: string
  text: string
}

/** InputOptions say how to read `-f` arguments. */
export interface InputOptions {
  /** The flag named in messages (default `-f`). */
  flag?: string
  /** Read directories' subdirectories too (`-R, --recursive`; default false, as kubectl). */
  recursive?: boolean
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json'])

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** manifestFiles lists a directory's manifest files in name order; subdirectories (not symlinks to them) only when recursive. */
async function manifestFiles(dir: string, recursive: boolean): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const files: string[] = []
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (recursive) files.push(...(await manifestFiles(p, true)))
    } else if (MANIFEST_EXTENSIONS.has(extname(e.name))) {
      files.push(p)
    }
  }
  return files
}

/** readInputs reads every `-f` argument; throws CliError naming the path at fault. */
export async function readInputs(paths: readonly string[], opts: InputOptions = {}): Promise<Input[]> {
  const flag = opts.flag ?? '-f'
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
      const files = await manifestFiles(p, opts.recursive === true)
      if (files.length === 0) throw new CliError(`${flag} ${p}: the directory holds no .yaml, .yml or .json file`)
      for (const f of files) out.push({ source: f, text: await readFile(f, 'utf8') })
    } else {
      out.push({ source: p, text: await readFile(p, 'utf8') })
    }
  }
  return out
}
