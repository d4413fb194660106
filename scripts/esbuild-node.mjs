// What the agent's and the CLI's bundles (bundle-agent.mjs, bundle-cli.mjs) share: Node's
// own modules loaded with require(), also where the code imports them. An `import` of a
// built-in module builds its ES module namespace, which reads every export, and reading
// node:http's (WebSocket, MessageEvent, ...) loads Node's bundled undici and HTTP/2, which
// neither uses: about 3 MB of memory (docs/idle-cost.md) and 50-70 ms of a CLI command's
// start-up (docs/fleet-speed.md, runs W-Z).

import { isBuiltin } from 'node:module'

/** Bundled CommonJS dependencies call require() for Node's own modules: an ES module has none of its own. */
const REQUIRE_BANNER = "import { createRequire as __daemonmeshRequire } from 'node:module'; const require = __daemonmeshRequire(import.meta.url);"

/** The module that stands in for a built-in one imported with `import`: its CommonJS exports, which esbuild's interop reads only when used. */
const viaRequire = (id) => `module.exports = require(${JSON.stringify(id)})`

/** An esbuild plugin: every `import` of a built-in module becomes a require() of it. */
export const builtinsViaRequire = {
  name: 'builtins-via-require',
  setup(b) {
    b.onResolve({ filter: /^[a-z_/:0-9]+$/ }, (a) => (a.kind === 'import-statement' && isBuiltin(a.path) ? { path: a.path, namespace: 'builtin' } : undefined))
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({ contents: viaRequire(a.path), loader: 'js' }))
  },
}

/**
 * The options both bundles share: minified ES modules for Node 22, with a linked source map;
 * native modules load from node_modules (their .node files cannot be bundled).
 */
export const NODE_BUNDLE = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  // Class and function names stay: logged errors keep their type, stack traces stay readable.
  keepNames: true,
  sourcemap: 'linked',
  external: ['classic-level', 'cpu-features', 'ssh2'],
  banner: { js: REQUIRE_BANNER },
  logLevel: 'warning',
}
