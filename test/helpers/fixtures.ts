// Test helpers: fixture files and small builders. Tests only.

import { readFileSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseDaemonSet } from '../../core/manifest.js'
import type { DaemonSet, NodeInfo, Taint } from '../../core/types.js'

/** repoPath resolves a path from the repository root (tests run from dist/test/...). */
export function repoPath(rel: string): string {
  return fileURLToPath(new URL(`../../../${rel}`, import.meta.url))
}

let bundleChecked = false

/**
 * assertAgentBundleFresh throws when dist/bundle/agent.mjs, which bin/daemonmesh.js runs
 * as the agent, is missing or older than the compiled dist/agent (a `tsc` without the
 * bundling step of `npm run build`): tests would otherwise run yesterday's agent.
 */
export function assertAgentBundleFresh(): void {
  if (bundleChecked) return
  const bundle = statSync(repoPath('dist/bundle/agent.mjs'), { throwIfNoEntry: false })
  const compiled = statSync(repoPath('dist/agent/main.js'))
  if (bundle === undefined || bundle.mtimeMs < compiled.mtimeMs) throw new Error('dist/bundle/agent.mjs is missing or older than dist/agent: build with `npm run build` (tsc, then scripts/bundle-agent.mjs)')
  bundleChecked = true
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
