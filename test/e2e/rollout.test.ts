// Rolling updates on five namespace hosts, each with its own dockerd, driven by the real
// CLI. A sampler polls every host's Docker every 100 ms throughout and records, per
// DaemonSet, the most hosts seen at once without a ready copy of it, the most copies of
// one revision on one host, and the most revisions running in the fleet at once.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../helpers/cluster.js'
import { TEST_IMAGE, managed, requireDocker, type ContainerRow } from '../helpers/docker.js'
import { Fleet, cli, type FleetHost } from '../helpers/hosts.js'
import { requireHostTools } from '../helpers/netns.js'

const skip = (await requireHostTools()) ?? (await requireDocker())

const V2 = 'daemonmesh-test/app:v2'
const V3 = 'daemonmesh-test/app:v3'

const manifest = (name: string, strategy: string, extra = ''): string => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: ${name}}}
  updateStrategy:
${strategy}
${extra}  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
`

interface Seen {
  /** Most hosts at once without a running copy (after the first full placement). */
  maxDown: number
  /** Most running copies of one revision on one host. */
  maxPerRevision: number
  /** Most distinct revisions running in the fleet at once. */
  maxRevisions: number
  armed: boolean
}

describe('rolling updates on namespace hosts', { skip }, () => {
  const fleet = new Fleet(90)
  let h: FleetHost[] = []
  const seen = new Map<string, Seen>()
  let sampler: NodeJS.Timeout | undefined
  let sampling = false
  const key = (): string[] => ['--agent', (h[0] as FleetHost).agent.target.address, '--key', fleet.cluster.operatorKeyFile]

  const run = async (...args: string[]): Promise<string> => {
    const r = await cli(...args, ...key())
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const apply = async (name: string, text: string): Promise<void> => {
    const f = join(fleet.cluster.root, `${name}.yaml`)
    await writeFile(f, text)
    await run('apply', '-f', f)
  }
  const rows = async (): Promise<ContainerRow[][]> => Promise.all(fleet.hosts.map((x) => managed(x.docker).catch(() => [])))
  /** revisions returns, per host, the revisions of the DaemonSet's running copies. */
  const revisions = async (ds: string): Promise<string[][]> => (await rows()).map((r) => r.filter((c) => c.daemonSet === `default.${ds}` && c.state === 'running').map((c) => c.revision).sort())
  const sample = async (): Promise<void> => {
    const all = await rows()
    for (const [ds, s] of seen) {
      const per = all.map((r) => r.filter((c) => c.daemonSet === `default.${ds}` && c.state === 'running'))
      const down = per.filter((p) => p.length === 0).length
      if (!s.armed && down === 0) s.armed = true
      if (s.armed) s.maxDown = Math.max(s.maxDown, down)
      for (const p of per) {
        const counts = new Map<string, number>()
        for (const c of p) counts.set(c.revision, (counts.get(c.revision) ?? 0) + 1)
        for (const n of counts.values()) s.maxPerRevision = Math.max(s.maxPerRevision, n)
      }
      s.maxRevisions = Math.max(s.maxRevisions, new Set(per.flat().map((c) => c.revision)).size)
    }
  }
  const watch = (ds: string): Seen => {
    const s = { maxDown: 0, maxPerRevision: 0, maxRevisions: 0, armed: false }
    seen.set(ds, s)
    return s
  }
  /** settled waits until every host runs exactly one copy, all of one revision different from `from`. */
  const settled = async (ds: string, from: string | undefined, timeoutMs = 90_000, hosts = fleet.hosts.length): Promise<string> => {
    try {
      return await waitFor(`${ds} rolled out`, async () => {
        const r = (await revisions(ds)).slice(0, hosts)
        const flat = r.flat()
        return r.every((x) => x.length === 1) && new Set(flat).size === 1 && flat[0] !== from ? flat[0] : undefined
      }, timeoutMs, 250)
    } catch (err) {
      // Show what each host was doing: its last lease and reconciler lines, and its copies.
      for (const x of fleet.hosts) {
        const lines = (await x.agent.logTail(400)).split('\n').filter((l) => /lease|reconciler|slot|updat/.test(l)).slice(-12)
        const pod = (await x.agent.nodes().catch(() => [])).find((n) => n.metadata.name === x.agent.name)?.status.pods?.[`default/${ds}`]
        process.stderr.write(`--- ${x.agent.name}: ${JSON.stringify(await revisions(ds).then((r) => r[fleet.hosts.indexOf(x)]))} ${JSON.stringify(pod)}\n${lines.join('\n')}\n`)
      }
      throw err
    }
  }

  before(async () => {
    await fleet.up()
    for (let i = 1; i <= 5; i++) h.push(await fleet.addHost(`host-${i}`, { imageTags: [V2, V3] }))
    await waitFor('5 alive', async () => (await Promise.all(h.map(async (x) => (await x.agent.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 5), 30_000)
    sampler = setInterval(() => {
      if (sampling) return
      sampling = true
      void sample().finally(() => (sampling = false))
    }, 100)
  })

  after(async () => {
    clearInterval(sampler)
    await fleet.destroy()
  })

  it('maxUnavailable 1: set image rolls through all five, never two hosts down at once', async () => {
    const s = watch('one')
    await apply('one', manifest('one', '    type: RollingUpdate\n    rollingUpdate: {maxUnavailable: 1}'))
    const r1 = await settled('one', undefined)
    const t0 = Date.now()
    await run('set', 'image', 'ds/one', `main=${V2}`)
    const r2 = await settled('one', r1)
    assert.notEqual(r2, r1)
    assert.equal(s.maxDown, 1, 'some host was down during the rollout, never two')
    assert.equal(s.maxPerRevision, 1)
    process.stderr.write(`# rollout of 5 hosts (maxUnavailable 1) took ${Date.now() - t0} ms\n`)
  })
})
