// Test helpers: fixture files and small builders. Tests only.

import { readFileSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseDaemonSet } from '../../core/manifest.js'
import type { DaemonSet, NodeInfo, Taint } from '../../core/types.js'

/** repoPath resolves a path from the repository root (tests run from dist/test/...). */
export function repoPath(rel: string): string {
  return fileURLToPath(new URL(`../../../${rel}`, import.meta.url))
}

let bundlesChecked = false

/**
 * assertBundlesFresh throws when a bundle bin/daemonmesh.js runs (dist/bundle/agent.mjs for
 * `agent`, dist/bundle/cli/ for the other commands) is missing or older than what it is built
 * from (a `tsc` without the bundling steps of `npm run build`): tests would otherwise run
 * yesterday's agent or CLI.
 */
export function assertBundlesFresh(): void {
  if (bundlesChecked) return
  for (const [bundle, from] of [['dist/bundle/agent.mjs', 'dist/agent/main.js'], ['dist/bundle/cli/main.mjs', 'dist/cli/main.js']] as const) {
    const built = statSync(repoPath(bundle), { throwIfNoEntry: false })
    if (built === undefined || built.mtimeMs < statSync(repoPath(from)).mtimeMs) throw new Error(`${bundle} is missing or older than ${from}: build with \`npm run build\` (tsc, then scripts/bundle-agent.mjs and scripts/bundle-cli.mjs)`)
  }
  bundlesChecked = true
}

/** seedFiles lists the seed manifests (verbatim from shared/seeds) with their text. */
export function seedFiles(): { name: string; text: string }[] {
  const dir = repoPath('test/fixtures/seeds')
  return readdirSync(dir)
    .filter((n) => n.endsWith('.yaml'))
    .sort()
    .map((name) => ({ name, text: readFileSync(`${dir}/${name}`, 'utf8') }))
}

/** ds builds a valid apps/v1 DaemonSet object with `spec.template.spec` overrides, then parses it. */
export function ds(podSpec: Record<string, unknown> = {}, extra: { spec?: Record<string, unknown>; metadata?: Record<string, unknown>; apiVersion?: string; templateMeta?: Record<string, unknown> } = {}): DaemonSet {
  const obj = rawDs(podSpec, extra)
  const res = parseDaemonSet(obj)
  if (res.daemonSet === undefined) throw new Error(`fixture invalid: ${JSON.stringify(res.errors)}`)
  return res.daemonSet
}

/** rawDs builds the plain object ds() parses. */
export function rawDs(podSpec: Record<string, unknown> = {}, extra: { spec?: Record<string, unknown>; metadata?: Record<string, unknown>; apiVersion?: string; templateMeta?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    apiVersion: extra.apiVersion ?? 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', ...(extra.metadata ?? {}) },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: {
        metadata: { labels: { app: 'agent' }, ...(extra.templateMeta ?? {}) },
        spec: { containers: [{ name: 'main', image: 'busybox:1.36' }], ...podSpec },
      },
      ...(extra.spec ?? {}),
    },
  }
}

/** node builds a NodeInfo. */
export function node(name: string, labels: Record<string, string> = {}, taints: Taint[] = []): NodeInfo {
  return { name, labels, taints }
}
