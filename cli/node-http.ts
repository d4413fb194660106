// Node's http and tls for the CLI, loaded with require() rather than imported. An ES import
// of node:http builds its module namespace, which reads every export, and reading its
// WebSocket, EventSource and the like loads Node's bundled undici and HTTP/2, which the CLI
// never uses: 50-70 ms of every command that reaches an agent, on this machine. tls is
// loaded only for an https:// agent. (The agent's bundle does the same: scripts/bundle-agent.mjs.)

import type * as Http from 'node:http'
import { createRequire } from 'node:module'
import type * as Tls from 'node:tls'

const load = createRequire(import.meta.url)

/** http is node:http. */
export const http = load('node:http') as typeof Http

/** tls returns node:tls, loaded on first use. */
export const tls = (): typeof Tls => load('node:tls') as typeof Tls
