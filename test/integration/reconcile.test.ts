// Agents on loopback sharing this machine's dockerd (each a different node): exactly one
// copy per matching node, status reported, an update's new copy created ahead of its slot,
// hand-removed containers recreated, agent crashes leave containers running and re-adopted
// without twins, delete removes.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { TEST_IMAGE, buildTestImage, docker, managed, removeManaged, requireDocker, type ContainerRow } from '../helpers/docker.js'
import { sleeperYaml } from '../helpers/manifests.js'
import { dockerName } from '../../core/container-spec.js'
import { parseManifests } from '../../core/manifest.js'
import { revisionOf } from '../../core/revision.js'

const HOST = 'unix:///var/run/docker.sock'
const skip = await requireDocker(HOST)

const ds = (name: string, podExtra = ''): string => sleeperYaml(name, { podExtra })

describe('reconciler with a real dockerd', { skip }, () => {
  let cluster: TestCluster
  let agents: TestAgent[]
  const names = ['rc-1', 'rc-2', 'rc-3']

  const apply = async (text: string): Promise<void> => {
    const f = join(cluster.root, `ds-${Math.random()}.yaml`)
    await writeFile(f, text)
    const r = await runCli('apply', '-f', f, '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
  }
  const copies = async (dsName: string): Promise<Record<string, number>> => {
    const rows = (await managed(HOST, names)).filter((r) => r.daemonSet === `default.${dsName}` && r.state === 'running')
    return Object.fromEntries(names.map((n) => [n, rows.filter((r) => r.node === n).length]))
  }

  before(async () => {
    await buildTestImage(HOST)
    cluster = await TestCluster.create('rc', 3000)
    await removeManaged(HOST, names)
    const first = await cluster.agent({ name: 'rc-1', docker: HOST, labels: { disktype: 'ssd' } }).start()
    const boot = await first.address()
    agents = [first, ...(await Promise.all(['rc-2', 'rc-3'].map((n) => cluster.agent({ name: n, docker: HOST, bootstrap: [boot] }).start())))]
    await waitFor('3 alive', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 20_000)
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, names)
  })

  it('runs exactly one copy on every node and reports it', async () => {
    await apply(ds('everywhere'))
    await waitFor('one copy per node', async () => Object.values(await copies('everywhere')).every((n) => n === 1), 20_000)
    await waitFor('status: 3 ready', async () => {
      const r = await runCli('get', 'ds', 'everywhere', '-o', 'json', '--agent', (agents[1] as TestAgent).target.address)
      const s = (JSON.parse(r.stdout) as { status: Record<string, number> }).status
      return s.desiredNumberScheduled === 3 && s.currentNumberScheduled === 3 && s.numberReady === 3 && s.updatedNumberScheduled === 3 && s.numberAvailable === 3
    }, 15_000)
  })

  it('get pods lists each node\'s copy', async () => {
    await waitFor('3 running pods', async () => {
      const r = await runCli('get', 'pods', '--agent', (agents[2] as TestAgent).target.address)
      return r.stdout.split('\n').filter((l) => /^everywhere-rc-\d +1\/1 +Running +0 +\d+s +rc-\d$/.test(l)).length === 3
    }, 10_000)
  })

  it('an image that cannot be pulled is reported as ErrImagePull, then ImagePullBackOff', async () => {
    await apply(ds('no-image').replace(TEST_IMAGE, 'registry.invalid/nothing:1'))
    await waitFor('ErrImagePull on every node', async () => {
      const r = await runCli('get', 'pods', '-o', 'json', '--agent', (agents[0] as TestAgent).target.address)
      const pods = (JSON.parse(r.stdout) as { items: { spec: { daemonSet: string }; status: { lastError?: string; ready: boolean } }[] }).items.filter((p) => p.spec.daemonSet === 'no-image')
      return pods.length === 3 && pods.every((p) => !p.status.ready && /^ErrImagePull: /.test(p.status.lastError ?? ''))
    }, 20_000)
    assert.deepEqual(await copies('no-image'), { 'rc-1': 0, 'rc-2': 0, 'rc-3': 0 })
    const r = await runCli('delete', 'ds', 'no-image', '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
  })

  it('delete --cascade=orphan leaves the copies running; a new DaemonSet whose selector matches adopts them untouched', async () => {
    await apply(ds('orph'))
    await waitFor('orph everywhere', async () => Object.values(await copies('orph')).every((n) => n === 1), 20_000)
    const ids = (await managed(HOST, names)).filter((r) => r.daemonSet === 'default.orph').map((r) => r.id).sort()
    const del = await runCli('delete', 'ds', 'orph', '--cascade=orphan', '--agent', (agents[1] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(del.code, 0, del.stderr)
    assert.match(del.stdout, /deleted \(orphan/)
    await new Promise((r) => setTimeout(r, 3000))
    assert.deepEqual((await managed(HOST, names)).filter((r) => r.daemonSet === 'default.orph' && r.state === 'running').map((r) => r.id).sort(), ids, 'orphans keep running')
    // Another name, another template (a different command), the same selector: adopted as they are.
    await apply(ds('adopter').replaceAll('app: adopter', 'app: orph').replace('"3600"', '"7200"'))
    await waitFor('adopter counts the orphans as its copies', async () => {
      const r = await runCli('get', 'ds', 'adopter', '-o', 'json', '--agent', (agents[0] as TestAgent).target.address)
      const st = (JSON.parse(r.stdout) as { status: Record<string, number> }).status
      return st.currentNumberScheduled === 3 && st.numberReady === 3 && st.updatedNumberScheduled === 0
    }, 15_000)
    const after = await managed(HOST, names)
    assert.deepEqual(after.filter((r) => r.daemonSet === 'default.orph').map((r) => r.id).sort(), ids, 'the same containers, untouched')
    // Its update may have created its own pod ahead (not started: no copy while the orphan runs).
    assert.equal(after.filter((r) => r.daemonSet === 'default.adopter' && r.state !== 'created').length, 0, 'no new copy was made')
  })

  it('restarts of a crashing container are counted and reported', async () => {
    await apply(ds('crashy').replace('command: ["sleep", "3600"]', 'command: ["sh", "-c", "sleep 1; exit 3"]'))
    await waitFor('restarts reported on rc-1', async () => {
      const nodes = await (agents[0] as TestAgent).nodes()
      const pod = (nodes.find((n) => n.metadata.name === 'rc-1')?.status as unknown as { pods: Record<string, { restarts: number }> }).pods['default/crashy']
      return (pod?.restarts ?? 0) >= 2
    }, 30_000, 250)
    const r = await runCli('delete', 'ds', 'crashy', '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
  })

  it('readiness probes gate ready: exec, httpGet and tcpSocket, passing and failing', async () => {
    const pod = async (ds: string): Promise<{ ready: boolean; lastError?: string } | undefined> =>
      ((await (agents[0] as TestAgent).nodes()).find((n) => n.metadata.name === 'rc-1')?.status.pods ?? {})[`default/${ds}`]
    // exec: ready once the file exists (after 3 s), unready again when it goes.
    await apply(ds('gated').replace('command: ["sleep", "3600"]', `command: ["sh", "-c", "sleep 3; touch /tmp/ready; sleep 3600"]
        readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1, failureThreshold: 1}`))
    await waitFor('gated running but not ready', async () => {
      const rows = (await managed(HOST, ['rc-1'])).filter((r) => r.daemonSet === 'default.gated' && r.state === 'running')
      const p = await pod('gated')
      return rows.length === 1 && p !== undefined && !p.ready
    }, 15_000, 100)
    await waitFor('gated ready after its probe passes', async () => (await pod('gated'))?.ready === true, 15_000, 200)
    const id = (await managed(HOST, ['rc-1'])).find((r) => r.daemonSet === 'default.gated')?.id as string
    await docker(HOST, 'exec', id, 'busybox', 'rm', '/tmp/ready')
    await waitFor('gated unready when its probe fails', async () => {
      const p = await pod('gated')
      return p?.ready === false && /readiness probe failed/.test(p.lastError ?? '') ? p : undefined
    }, 15_000, 200)
    // httpGet (on a named port) and tcpSocket, against the pod's address.
    await apply(ds('served').replace('      containers:\n', `      containers:
      - name: web
        image: ${TEST_IMAGE}
        command: ["sh", "-c", "echo ok > /tmp/index.html; httpd -f -p 8080 -h /tmp"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
`).replace('command: ["sleep", "3600"]', `command: ["sleep", "3600"]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}`))
    await waitFor('served ready (httpGet and tcpSocket pass)', async () => (await pod('served'))?.ready === true, 20_000, 200)
    // Nothing listens on 9999: never ready, and the reason is reported.
    await apply(ds('deaf').replace('command: ["sleep", "3600"]', `command: ["sleep", "3600"]
        readinessProbe: {httpGet: {port: 9999}, periodSeconds: 1, failureThreshold: 1}`))
    await waitFor('deaf reports its probe failure', async () => /readiness probe failed/.test((await pod('deaf'))?.lastError ?? ''), 15_000, 200)
    assert.equal((await pod('deaf'))?.ready, false)
    for (const name of ['gated', 'served', 'deaf']) {
      const r = await runCli('delete', 'ds', name, '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
      assert.equal(r.code, 0, r.stderr)
    }
  })

  it('the containers of one pod share its first container\'s network namespace', async () => {
    const twoContainers = ds('duo').replace('      containers:\n', '      containers:\n      - name: web\n        image: ${TEST_IMAGE}\n        command: ["httpd", "-f", "-p", "8080"]\n'.replace('${TEST_IMAGE}', TEST_IMAGE))
    await apply(twoContainers)
    await waitFor('two containers on rc-1', async () => (await managed(HOST, ['rc-1'])).filter((r) => r.daemonSet === 'default.duo' && r.state === 'running').length === 2, 20_000)
    const rows = (await managed(HOST, ['rc-1'])).filter((r) => r.daemonSet === 'default.duo')
    const web = rows.find((r) => r.name.includes('_web_'))
    const main = rows.find((r) => r.name.includes('_main_'))
    assert.ok(web && main)
    assert.equal((await docker(HOST, 'inspect', '-f', '{{.HostConfig.NetworkMode}}', main.id)).trim(), `container:${web.id}`)
    // main reaches web's port on localhost: one network namespace.
    const page = await docker(HOST, 'exec', main.id, 'wget', '-q', '-O', '-', 'http://127.0.0.1:8080/').catch((e: Error) => e.message)
    assert.doesNotMatch(page, /Connection refused|can't connect/)
  })

  it('hostPort, env with $(VAR) and fieldRef, and resources reach Docker', async () => {
    const text = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {disktype: ssd}
      containers:
      - name: httpd
        image: ${TEST_IMAGE}
        command: ["httpd", "-f", "-p", "80", "-h", "/tmp"]
        ports: [{containerPort: 80, hostPort: 18080}]
        env:
        - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: GREETING, value: "hello $(NODE)"}
        resources: {limits: {memory: 64Mi, cpu: 250m}}
`
    await apply(text)
    await waitFor('web on rc-1', async () => (await copies('web'))['rc-1'] === 1, 20_000)
    const [row] = (await managed(HOST, ['rc-1'])).filter((r) => r.daemonSet === 'default.web')
    assert.ok(row)
    assert.match(await docker(HOST, 'exec', row.id, 'env'), /GREETING=hello rc-1/)
    assert.equal((await docker(HOST, 'inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.Config.StopTimeout}} {{.HostConfig.RestartPolicy.Name}}', row.id)).trim(), `${64 * 1024 * 1024} 250000000 1 always`)
    await docker(HOST, 'exec', row.id, 'sh', '-c', 'echo daemonmesh > /tmp/index.html')
    const page = await waitFor('the host port answers', async () => {
      const res = await fetch('http://127.0.0.1:18080/index.html').catch(() => undefined)
      return res?.ok === true ? res.text() : undefined
    }, 10_000, 200)
    assert.equal(page.trim(), 'daemonmesh')
  })

  it('hostNetwork, hostPID and hostIPC reach Docker', async () => {
    await apply(ds('hostns', '      hostNetwork: true\n      hostPID: true\n      hostIPC: true\n      nodeSelector: {disktype: ssd}\n'))
    await waitFor('hostns on rc-1', async () => (await copies('hostns'))['rc-1'] === 1, 20_000)
    const [row] = (await managed(HOST, ['rc-1'])).filter((r) => r.daemonSet === 'default.hostns')
    assert.ok(row)
    assert.equal((await docker(HOST, 'inspect', '-f', '{{.HostConfig.NetworkMode}} {{.HostConfig.PidMode}} {{.HostConfig.IpcMode}}', row.id)).trim(), 'host host host')
  })

  it('an agent whose Docker is unavailable keeps running and says so in its node record', async () => {
    const lone = await cluster.agent({ name: 'rc-nodocker', docker: 'unix:///nonexistent/docker.sock', bootstrap: [await (agents[0] as TestAgent).address()] }).start()
    await waitFor('DockerReady=False seen by rc-1', async () => {
      const n = (await (agents[0] as TestAgent).nodes()).find((x) => x.metadata.name === 'rc-nodocker')
      const conds = (n?.status as unknown as { conditions?: { type: string; status: string; reason?: string }[] } | undefined)?.conditions ?? []
      return conds.some((c) => c.type === 'DockerReady' && c.status === 'False' && c.reason === 'DockerUnavailable')
    }, 15_000)
    assert.equal((await lone.health()).node, 'rc-nodocker')
    await lone.stop('SIGTERM')
  })

  it('a nodeSelector DaemonSet runs only on labelled nodes', async () => {
    await apply(ds('ssd-only', '      nodeSelector: {disktype: ssd}\n'))
    await waitFor('one copy on rc-1', async () => JSON.stringify(await copies('ssd-only')) === JSON.stringify({ 'rc-1': 1, 'rc-2': 0, 'rc-3': 0 }), 20_000)
    await new Promise((r) => setTimeout(r, 1500))
    assert.deepEqual(await copies('ssd-only'), { 'rc-1': 1, 'rc-2': 0, 'rc-3': 0 })
  })

  it('a container of the pod\'s name that will not start is replaced, not retried for good', async () => {
    // As left by a start that a dockerd shutting down cut short: its every start fails.
    const text = ds('stuck', '      nodeSelector: {disktype: ssd}\n')
    const parsed = parseManifests(text, 'stuck.yaml')[0]?.daemonSet
    assert.ok(parsed)
    const name = dockerName(parsed, 'main', revisionOf(parsed), 'rc-1')
    await docker(HOST, 'rm', '-f', name).catch(() => undefined)
    await docker(HOST, 'create', '--name', name, TEST_IMAGE, '/no/such/command')
    try {
      await apply(text)
      // Without the replacement the agent would retry the start after 10 s, 20 s, 40 s... and fail each time.
      await waitFor('stuck runs on rc-1', async () => (await copies('stuck'))['rc-1'] === 1, 8_000)
      const rows = (await managed(HOST, ['rc-1'])).filter((r) => r.daemonSet === 'default.stuck')
      assert.deepEqual(rows.map((r) => r.state), ['running'], 'one copy, the agent\'s own')
    } finally {
      const r = await runCli('delete', 'ds', 'stuck', '--agent', (agents[0] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
      assert.equal(r.code, 0, r.stderr)
      await waitFor('stuck gone', async () => (await copies('stuck'))['rc-1'] === 0, 20_000)
    }
  })

  it('a container removed by hand is recreated', async () => {
    const [row] = (await managed(HOST, ['rc-2'])).filter((r) => r.daemonSet === 'default.everywhere')
    assert.ok(row)
    await docker(HOST, 'rm', '-f', row.id)
    await waitFor('recreated on rc-2', async () => (await copies('everywhere'))['rc-2'] === 1, 20_000)
  })

  it('an agent killed and restarted re-adopts its containers without a twin', async () => {
    const a = agents[2] as TestAgent
    const before = (await managed(HOST, ['rc-3'])).map((r) => r.id).sort()
    await a.stop('SIGKILL')
    await new Promise((r) => setTimeout(r, 1000))
    assert.deepEqual((await managed(HOST, ['rc-3'])).filter((r) => r.state === 'running').map((r) => r.id).sort(), before, 'containers keep running while the agent is down')
    await a.start()
    await new Promise((r) => setTimeout(r, 3000))
    assert.deepEqual((await managed(HOST, ['rc-3'])).map((r) => r.id).sort(), before)
  })

  it('an update\'s new copy is created ahead of its slot and started under it, not made again; meanwhile the host reports its old copy', async () => {
    const ahead = (v: string): string =>
      sleeperYaml('ahead', { containerExtra: `        env: [{name: V, value: "${v}"}]\n` }).replace('\nspec:\n', '\nspec:\n  minReadySeconds: 4\n  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}\n')
    const rows = async (): Promise<ContainerRow[]> => (await managed(HOST, names)).filter((r) => r.daemonSet === 'default.ahead')
    await apply(ahead('1'))
    const r1 = await waitFor('one copy per node', async () => {
      const r = await rows()
      return r.length === 3 && r.every((c) => c.state === 'running') ? r[0]?.revision : undefined
    }, 20_000)
    await apply(ahead('2'))
    // One host updates, then waits out minReadySeconds; the others wait for a slot.
    const prepared = async (): Promise<{ node: string; id: string } | undefined> => {
      const r = await rows()
      const c = r.find((x) => x.revision !== r1 && x.state === 'created' && r.some((y) => y.node === x.node && y.revision === r1 && y.state === 'running'))
      return c === undefined ? undefined : { node: c.node, id: c.id }
    }
    const early = await waitFor('a host with its new copy created beside its running old one', prepared, 20_000, 100)
    const agent = agents[names.indexOf(early.node)] as TestAgent
    const report = (await agent.nodes()).find((n) => n.metadata.name === early.node)?.status.pods?.['default/ahead']
    if ((await prepared())?.id === early.id) assert.deepEqual([report?.revision, report?.ready], [r1, true], `${early.node} reports its running old copy: ${JSON.stringify(report)}`)
    const done = await waitFor('rolled out', async () => {
      const r = await rows()
      return r.length === 3 && r.every((c) => c.state === 'running' && c.revision !== r1) && new Set(r.map((c) => c.node)).size === 3 ? r : undefined
    }, 60_000, 250)
    assert.equal(done.find((c) => c.node === early.node)?.id, early.id, `${early.node} started the container it created ahead`)
    const r = await runCli('delete', 'ds', 'ahead', '--agent', (agents[1] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await waitFor('no copy of ahead left', async () => (await rows()).length === 0, 20_000)
  })

  it('deleting the DaemonSet removes every copy', async () => {
    const r = await runCli('delete', 'ds', 'everywhere', '--agent', (agents[1] as TestAgent).target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await waitFor('no copy left', async () => Object.values(await copies('everywhere')).every((n) => n === 0), 20_000)
  })
})
