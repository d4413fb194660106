// `npm run build`'s last step, after the agent's (bundle-agent.mjs): the CLI as minified ES
// modules in dist/bundle/cli/, which bin/daemonmesh.js runs for every command but `agent`.
// Built from the compiled dist/cli (what the tests of dist/ exercise). Why: a command runs
// for a moment, and much of it went to Node resolving, reading and compiling modules: an
// `apply` opened 138 files, and opens 39 of the bundle's chunks (bin/daemonmesh.js also
// keeps the compiled code: docs/fleet-speed.md has the figures). Each command's code stays in chunks
// of its own, loaded when the command runs (cli/verbs.ts): `get` does not load the YAML
// parser, nor `apply` the agent. Native modules stay outside, as for the agent.
//
// Usage: node scripts/bundle-cli.mjs

import { build } from 'esbuild'
import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NODE_BUNDLE, builtinsViaRequire } from './esbuild-node.mjs'

if (process.argv.length > 2) {
  console.error('usage: node scripts/bundle-cli.mjs')
  process.exit(2)
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outdir = join(root, 'dist/bundle/cli')
// Chunks are named by their content: an earlier build's would stay beside the new ones.
await rm(outdir, { recursive: true, force: true })
await build({
  entryPoints: [join(root, 'dist/cli/main.js')],
  outdir,
  outExtension: { '.js': '.mjs' },
  ...NODE_BUNDLE,
  splitting: true,
  plugins: [builtinsViaRequire],
})
