// The life of DaemonSets on hosts in network namespaces, each with its own dockerd, driven
// by the real CLI: placement follows labels and taints, late hosts get their copies,
// crashes and hand removals and a dockerd restart never leave two copies, a host cut off
// converges after healing, and delete removes every copy.

import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../helpers/cluster.js'
import { TEST_IMAGE, docker, managed, requireDocker } from '../helpers/docker.js'
import { Fleet, cli, type FleetHost } from '../helpers/hosts.js'
import { requireHostTools } from '../helpers/netns.js'
import { sleeperYaml } from '../helpers/manifests.js'
import { surfaceFailures } from '../helpers/failures.js'

const skip = (await requireHostTools()) ?? (await requireDocker())

const manifest = (name: string, podExtra = ''): string => sleeperYaml(name, { podExtra })

describe('DaemonSet lifecycle on namespace hosts', { skip }, () => {
  const fleet = new Fleet(80)
  let h: FleetHost[] = []
  /** The largest number of running copies of one DaemonSet seen on one host, by the sampler. */
  let maxCopies = 0
  let sampler: NodeJS.Timeout | undefined

  const apply = async (name: string, text: string): Promise<void> => {
    const f = join(fleet.cluster.root, `${name}.yaml`)
    await writeFile(f, text)
    const r = await cli('apply', '-f', f, '--agent', (h[0] as FleetHost).agent.target.address, '--key', fleet.cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
  }
  const copies = async (ds: string): Promise<number[]> =>
    Promise.all(fleet.hosts.map(async (x) => (await managed(x.docker).catch(() => [])).filter((r) => r.daemonSet === `default.${ds}` && r.state === 'running').length))
  const placed = async (ds: string, want: number[], timeoutMs = 30_000): Promise<void> => {
    let seen: number[] = []
    await waitFor(`${ds} on ${JSON.stringify(want)}`, async () => JSON.stringify(seen = await copies(ds)) === JSON.stringify(want), timeoutMs, 250)
      .catch((err: Error) => { throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}; agents' logs in ${fleet.cluster.root}`) })
  }

  before(async () => {
    await fleet.up()
    h = [await fleet.addHost('node-1', { labels: { disktype: 'ssd' } }), await fleet.addHost('node-2'), await fleet.addHost('node-3')]
    await waitFor('3 alive', async () => (await Promise.all(h.map(async (x) => (await x.agent.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 30_000)
    sampler = setInterval(() => {
      void Promise.all(fleet.hosts.map((x) => managed(x.docker).catch(() => []))).then((all) => {
        for (const rows of all) {
          const per = new Map<string, number>()
          for (const r of rows) if (r.state === 'running') per.set(r.daemonSet, (per.get(r.daemonSet) ?? 0) + 1)
          for (const n of per.values()) maxCopies = Math.max(maxCopies, n)
        }
      })
    }, 200)
  })

  after(async () => {
    clearInterval(sampler)
    await fleet.destroy()
  })

  it('a nodeSelector DaemonSet runs only on labelled hosts; relabelling adds and removes copies', async () => {
    await apply('ssd', manifest('ssd', '      nodeSelector: {disktype: ssd}\n'))
    await placed('ssd', [1, 0, 0])
    await fleet.relabel(h[1] as FleetHost, { disktype: 'ssd' })
    await placed('ssd', [1, 1, 0])
    await fleet.relabel(h[0] as FleetHost, {})
    await placed('ssd', [0, 1, 0])
  })

  it('an untolerated NoExecute taint evicts; a toleration keeps the copy', async () => {
    await apply('plain', manifest('plain'))
    await apply('tolerant', manifest('tolerant', '      tolerations: [{key: maintenance, operator: Exists, effect: NoExecute}]\n'))
    await placed('plain', [1, 1, 1])
    await placed('tolerant', [1, 1, 1])
    await fleet.relabel(h[2] as FleetHost, {}, ['maintenance=yes:NoExecute'])
    await placed('plain', [1, 1, 0])
    await new Promise((r) => setTimeout(r, 1500))
    assert.deepEqual(await copies('tolerant'), [1, 1, 1])
  })

  it('a host that joins later gets its copies', async () => {
    h.push(await fleet.addHost('node-4'))
    await placed('plain', [1, 1, 0, 1])
    await placed('tolerant', [1, 1, 1, 1])
    assert.deepEqual(await copies('ssd'), [0, 1, 0, 0])
  })

  it('SIGKILL an agent, remove a container by hand, restart a dockerd: one copy each, never two', async () => {
    const a0 = h[0] as FleetHost
    await a0.agent.stop('SIGKILL')
    const [victim] = (await managed((h[1] as FleetHost).docker)).filter((r) => r.daemonSet === 'default.plain')
    assert.ok(victim)
    await docker((h[1] as FleetHost).docker, 'rm', '-f', victim.id)
    await fleet.restartDockerd(h[3] as FleetHost)
    await a0.agent.start()
    await placed('plain', [1, 1, 0, 1], 60_000)
    await placed('tolerant', [1, 1, 1, 1], 60_000)
    await new Promise((r) => setTimeout(r, 2000))
    assert.deepEqual(await copies('plain'), [1, 1, 0, 1])
    assert.equal(maxCopies, 1, 'no host ever ran two copies of one DaemonSet')
  })

  it('a host cut off while a change is applied converges after healing', async () => {
    const cut = h[1] as FleetHost
    await fleet.fabric.cut(cut.host)
    const cutAt = Date.now()
    try {
      await apply('during-cut', manifest('during-cut'))
      // node-3 carries the untolerated NoExecute taint from above.
      await placed('during-cut', [1, 0, 0, 1])
      await new Promise((r) => setTimeout(r, 1000))
      assert.deepEqual(await copies('during-cut'), [1, 0, 0, 1], 'the cut host cannot know yet')
      // Its link down, Node lists no address of its own but loopback: past the 5 s for which
      // the agent reuses its addresses, its record must still name its bridge address, not 127.0.0.1.
      await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 6500 - Date.now())))
      const self = (await cut.agent.nodes()).find((n) => n.metadata.name === cut.agent.name)
      assert.ok(self?.status.addresses?.length && self.status.addresses.every((a) => a.startsWith('/ip4/10.80.')), `the cut host announces ${self?.status.addresses?.join(' ')}`)
    } finally {
      await fleet.fabric.heal(cut.host)
    }
    await placed('during-cut', [1, 1, 0, 1], 60_000)
  })

  it('--cascade=orphan leaves the copies; a new DaemonSet with a matching selector adopts them', async () => {
    const ids = async (ds: string): Promise<string[]> => (await Promise.all(fleet.hosts.map((x) => managed(x.docker)))).flat().filter((r) => r.daemonSet === `default.${ds}`).map((r) => r.id).sort()
    const before = await ids('plain')
    assert.equal(before.length, 3)
    const r = await cli('delete', 'ds', 'plain', '--cascade=false', '--agent', (h[3] as FleetHost).agent.target.address, '--key', fleet.cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await new Promise((res) => setTimeout(res, 3000))
    assert.deepEqual(await copies('plain'), [1, 1, 0, 1], 'orphans keep running')
    await apply('plain-v2', manifest('plain-v2').replaceAll('app: plain-v2', 'app: plain'))
    await waitFor('plain-v2 counts them', async () => {
      const g = await cli('get', 'ds', 'plain-v2', '-o', 'json', '--agent', (h[0] as FleetHost).agent.target.address)
      return (JSON.parse(g.stdout) as { status: { currentNumberScheduled: number } }).status.currentNumberScheduled === 3
    }, 20_000, 250)
    assert.deepEqual(await ids('plain'), before, 'adopted untouched')
    assert.deepEqual(await copies('plain-v2'), [0, 0, 0, 0], 'no new copies')
  })

  it("hosts announce their bridge address, not loopback, and no agent dialled itself through another's address", async () => {
    for (const x of h) {
      for (const n of await x.agent.nodes()) {
        const addrs = n.status.addresses ?? []
        assert.ok(addrs.length > 0 && addrs.every((a) => a.startsWith('/ip4/10.80.')), `${n.metadata.name} as ${x.agent.name} sees it: ${addrs.join(' ')}`)
      }
      // Before own-addresses.ts, each agent logged this some 56 times in this suite.
      assert.doesNotMatch(await readFile(join(x.agent.dir, 'agent.log'), 'utf8'), /Can not dial self/, x.agent.name)
    }
  })

  it('deleting a DaemonSet removes every copy', async () => {
    const r = await cli('delete', 'ds', 'tolerant', '--agent', (h[2] as FleetHost).agent.target.address, '--key', fleet.cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await placed('tolerant', [0, 0, 0, 0])
    assert.equal(maxCopies, 1)
  })

  surfaceFailures()
})
