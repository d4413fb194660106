#!/usr/bin/env node
// Entry point for the `daemonmesh` command: runs the compiled CLI from dist/. `daemonmesh
// agent` goes straight to the agent, so the long-running process never loads the CLI's
// commands (YAML, tables, completion) it has no use for, and it runs as one bundled module
// (`npm run build` makes dist/bundle/agent.mjs from dist/agent: scripts/bundle-agent.mjs).
if (process.argv[2] === 'agent') {
  const { runAgent } = await import('../dist/bundle/agent.mjs')
  process.exitCode = await runAgent(process.argv.slice(3))
} else {
  const { main } = await import('../dist/cli/main.js')
  process.exitCode = await main(process.argv.slice(2))
}
