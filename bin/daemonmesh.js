#!/usr/bin/env node
// Entry point for the `daemonmesh` command. `daemonmesh agent` goes straight to the agent,
// so the long-running process never loads the CLI's commands (YAML, tables, completion) it
// has no use for; every other command runs the CLI. Each runs bundled (`npm run build`
// makes dist/bundle/agent.mjs from dist/agent and dist/bundle/cli/ from dist/cli:
// scripts/bundle-agent.mjs, scripts/bundle-cli.mjs).
import nodeModule from 'node:module'

if (process.argv[2] === 'agent') {
  const { runAgent } = await import('../dist/bundle/agent.mjs')
  process.exitCode = await runAgent(process.argv.slice(3))
} else {
  // A command runs for a moment, much of it compiling: Node keeps the code it compiled (in
  // NODE_COMPILE_CACHE, or its own directory under the temporary one) for the next.
  // Absent before Node 22.1 (package.json allows any Node 22); a cache that cannot be
  // written is only not used.
  nodeModule.enableCompileCache?.()
  const { main } = await import('../dist/bundle/cli/main.mjs')
  process.exitCode = await main(process.argv.slice(2))
}
