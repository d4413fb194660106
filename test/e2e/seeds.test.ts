// The seeds' manifests, applied verbatim with the real CLI to hosts in network namespaces
// (each with its own dockerd): one container on every matching host and none elsewhere.

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { repoPath } from '../helpers/fixtures.js'
import { waitFor } from '../helpers/cluster.js'
import { TEST_IMAGE, docker, managed, requireDocker } from '../helpers/docker.js'
import { Fleet, cli } from '../helpers/hosts.js'
import { requireHostTools } from '../helpers/netns.js'
import { surfaceFailures } from '../helpers/failures.js'

const skip = (await requireHostTools()) ?? (await requireDocker())
const SEED_IMAGES = ['gcr.io/google-containers/fluentd-elasticsearch:1.20', 'k8s.gcr.io/fluentd-elasticsearch:1.20', 'ikubernetes/filebeat:5.6.5-alpine', 'fluent/fluentd:v0.14.10', 'prom/node-exporter:v0.15.2']

describe('seed manifests on three hosts', { skip }, () => {
  const fleet = new Fleet(79)

  before(async () => {
    await fleet.up()
    await fleet.addHost('host-1', { imageTags: SEED_IMAGES })
    await fleet.addHost('host-2', { imageTags: SEED_IMAGES })
    await fleet.addHost('master-1', { imageTags: SEED_IMAGES, taints: ['node-role.kubernetes.io/master:NoSchedule'] })
    await waitFor('3 alive', async () => (await Promise.all(fleet.hosts.map(async (h) => (await h.agent.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 30_000)
  })

  after(async () => fleet.destroy())

  const copies = async (ds: string, anyState = false): Promise<number[]> => Promise.all(fleet.hosts.map(async (h) => (await managed(h.docker)).filter((r) => r.daemonSet === ds && (anyState || r.state === 'running')).length))

  // Privileged containers need every capability; this sandbox's bounding set lacks one
  // (CAP_SYS_RESOURCE), so runc refuses them here. Where they work, seed 004 must run.
  let privileged = true
  before(async () => {
    const h = fleet.hosts[0]
    if (h === undefined) return
    privileged = await docker(h.docker, 'run', '--rm', '--privileged', TEST_IMAGE, 'true').then(() => true, () => false)
  })

  const cases: [string, string, number[]][] = [
    ['seed003-fluentd.yaml', 'default.fluentd', [1, 1, 0]],
    ['seed002-filebeat.yaml', 'default.filebeat-ds', [1, 1, 0]],
    ['seed004-node-exporter.yaml', 'monitoring.node-exporter', [1, 1, 0]],
    ['seed001-fluentd-elasticsearch.yaml', 'kube-system.fluentd-elasticsearch', [1, 1, 1]],
  ]
  for (const [file, ds, want] of cases) {
    it(`${file}: one copy on every matching host, none elsewhere`, async () => {
      const agent = fleet.hosts[0]?.agent
      assert.ok(agent)
      const r = await cli('apply', '-f', repoPath(`test/fixtures/seeds/${file}`), '--agent', agent.target.address, '--key', fleet.cluster.operatorKeyFile)
      assert.equal(r.code, 0, r.stderr)
      if (ds === 'monitoring.node-exporter' && !privileged) {
        // One copy per matching host, created but refused by runc, and the error reported.
        await waitFor(`${ds} placed`, async () => JSON.stringify(await copies(ds, true)) === JSON.stringify(want), 60_000, 250)
        await waitFor('the error in the node record', async () => {
          const nodes = await agent.nodes()
          const pod = (nodes.find((n) => n.metadata.name === 'host-1')?.status as unknown as { pods: Record<string, { lastError?: string }> }).pods['monitoring/node-exporter']
          return pod?.lastError?.includes('CreateContainerError') === true
        }, 20_000, 250)
        assert.deepEqual(await copies(ds, true), want)
        return
      }
      await waitFor(`${ds} placed`, async () => JSON.stringify(await copies(ds)) === JSON.stringify(want), 60_000, 250)
      await new Promise((res) => setTimeout(res, 1000))
      assert.deepEqual(await copies(ds), want, 'still exactly that a second later')
    })
  }

  surfaceFailures()
})
