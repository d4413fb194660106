// `npm run build`'s last step: the agent as one minified ES module, dist/bundle/agent.mjs,
// which bin/daemonmesh.js runs for `daemonmesh agent`. Built from the compiled dist/agent
// (what the tests of dist/ exercise), with every JavaScript dependency inside it. Why:
// Node resolves, reads and compiles about 870 module files for the unbundled agent, which
// costs a small host twice the start-up CPU, and their source text and names stay
// resident (docs/idle-cost.md has the figures). Native modules (LevelDB's binding, ssh2's
// optional crypto) stay outside and are loaded from node_modules as before.
//
// dockerode loads BuildKit's session and progress code (gRPC, protobuf, OpenTelemetry) at
// start-up for `buildImage` with BuildKit, which the agent never calls, and prom-client loads
// its Pushgateway client (and with it node:https, TLS and zlib, about 3 MB of memory) though
// the agent's metrics are scraped, never pushed: these files are replaced by a module that
// fails when used, so a future caller learns it at once.
//
// Node's own modules are loaded with require(), also where the code imports them
// (esbuild-node.mjs says why).
//
// libp2p's peer store sorts a peer's addresses, protocols and tags with localeCompare, only
// to get a stable order (and so does @libp2p/utils' arrayEquals): the first call makes V8
// load ICU's collation data, about 2.5 MB an agent then keeps. In those files the calls
// compare by code unit instead (core/order.ts says why); the build fails if a new version
// of them no longer has exactly the calls counted here.
//
// Usage: node scripts/bundle-agent.mjs [--metafile FILE]   (FILE: esbuild's input report)

import { build } from 'esbuild'
import { writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NODE_BUNDLE, builtinsViaRequire } from './esbuild-node.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const metaAt = args.indexOf('--metafile')
if (args.length > 0 && (metaAt !== 0 || args.length !== 2)) {
  console.error('usage: node scripts/bundle-agent.mjs [--metafile FILE]')
  process.exit(2)
}

/** Files the agent never uses, what they are, and the module that stands in for them. */
const UNUSED = [
  { file: /[\\/]dockerode[\\/]lib[\\/](session|buildkit)\.js$/, what: 'BuildKit builds are' },
  { file: /[\\/]prom-client[\\/]lib[\\/]pushgateway\.js$/, what: "prom-client's Pushgateway is" },
]
const unavailable = (what) => {
  const fail = `throw new Error(${JSON.stringify(`${what} not part of the daemonmesh agent`)})`
  return `module.exports = new Proxy(function () {}, { get() { ${fail} }, apply() { ${fail} }, construct() { ${fail} } })`
}

/** Files that sort with localeCompare, and how many calls each holds. */
const LOCALE_SORTS = [
  { file: /[\\/]@libp2p[\\/]peer-store[\\/]dist[\\/]src[\\/]utils[\\/]to-peer-pb\.js$/, calls: 2 },
  { file: /[\\/]@libp2p[\\/]peer-store[\\/]dist[\\/]src[\\/]utils[\\/]dedupe-addresses\.js$/, calls: 1 },
  { file: /[\\/]@libp2p[\\/]utils[\\/]dist[\\/]src[\\/]array-equals\.js$/, calls: 1 },
]
/** `X.localeCompare(`, X a name, a property path or a call without arguments (`a`, `a.toString()`, `a.multiaddr.toString()`). */
const LOCALE_COMPARE = /([\w$]+(?:\.[\w$]+(?:\(\))?)*)\.localeCompare\(/g
const CODE_UNIT_ORDER = 'const __byCodeUnit = (a, b) => (a < b ? -1 : a > b ? 1 : 0);\n'

const result = await build({
  entryPoints: [join(root, 'dist/agent/main.js')],
  outfile: join(root, 'dist/bundle/agent.mjs'),
  ...NODE_BUNDLE,
  metafile: metaAt === 0,
  plugins: [
    builtinsViaRequire,
    {
      name: 'code-unit-sorts',
      setup(b) {
        for (const l of LOCALE_SORTS) {
          b.onLoad({ filter: l.file }, async (a) => {
            const text = await readFile(a.path, 'utf8')
            const found = text.match(LOCALE_COMPARE)?.length ?? 0
            if (found !== l.calls || text.split('localeCompare').length - 1 !== l.calls) throw new Error(`${a.path}: ${l.calls} localeCompare calls expected, found ${found}: update LOCALE_SORTS in scripts/bundle-agent.mjs`)
            return { contents: CODE_UNIT_ORDER + text.replace(LOCALE_COMPARE, '__byCodeUnit($1, '), loader: 'js' }
          })
        }
      },
    },
    {
      name: 'unused',
      setup(b) {
        for (const u of UNUSED) b.onLoad({ filter: u.file }, () => ({ contents: unavailable(u.what), loader: 'js' }))
      },
    },
  ],
})
if (metaAt === 0) writeFileSync(args[1], JSON.stringify(result.metafile))
