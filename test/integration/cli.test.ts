// Every CLI verb against real agents (and this machine's dockerd), with output compared
// to the expected text; bad input gives one clear error and changes nothing; bundles of
// mixed kinds apply their DaemonSets and say what they skip.

import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { rolloutStatus } from '../../cli/commands/rollout.js'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '../../core/keys.js'
import { runCli } from '../helpers/cli.js'
import { repoPath } from '../helpers/fixtures.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { TEST_IMAGE, buildTestImage, docker, removeManaged, requireDocker } from '../helpers/docker.js'
import { sleeperYaml } from '../helpers/manifests.js'

const HOST = 'unix:///var/run/docker.sock'
const skip = await requireDocker(HOST)

const ds = (name: string, podExtra = '', image = TEST_IMAGE, containerExtra = ''): string => sleeperYaml(name, { podExtra, image, containerExtra, labels: '{team: infra}' })

describe('the CLI against real agents', { skip }, () => {
  let cluster: TestCluster
  let a1: TestAgent
  let a2: TestAgent
  const names = ['cli-1', 'cli-2']
  const file = async (name: string, text: string): Promise<string> => {
    const f = join(cluster.root, name)
    await writeFile(f, text)
    return f
  }
  const dm = (...args: string[]) => runCli(...args, '--agent', a1.target.address)
  const dmw = (...args: string[]) => runCli(...args, '--agent', a1.target.address, '--key', cluster.operatorKeyFile)

  before(async () => {
    await buildTestImage(HOST)
    // A second tag of the same image stands for a new version.
    await docker(HOST, 'tag', TEST_IMAGE, 'daemonmesh-test/busybox:2')
    await removeManaged(HOST, names)
    cluster = await TestCluster.create('cli', 3000)
    a1 = await cluster.agent({ name: 'cli-1', docker: HOST, labels: { zone: 'a' } }).start()
    a2 = await cluster.agent({ name: 'cli-2', docker: HOST, bootstrap: [await a1.address()] }).start()
    await waitFor('2 alive', async () => (await a1.nodes()).filter((n) => n.status.state === 'Alive').length === 2 && (await a2.nodes()).length === 2, 20_000)
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, names)
  })

  it('apply prints created, configured and unchanged', async () => {
    // Both agents share this machine's dockerd, so only the one-node DaemonSet binds a host port.
    const f = await file('two.yaml', `${ds('web')}---\n${ds('zone-a-only', '      nodeSelector: {zone: a}\n', TEST_IMAGE, '        ports: [{containerPort: 80, hostPort: 18081, name: http}]\n')}`)
    assert.deepEqual(await dmw('apply', '-f', f), { code: 0, stdout: 'daemonset.apps/web created\ndaemonset.apps/zone-a-only created\n', stderr: '' })
    assert.deepEqual(await dmw('apply', '-f', f), { code: 0, stdout: 'daemonset.apps/web unchanged\ndaemonset.apps/zone-a-only unchanged\n', stderr: '' })
    const changed = await file('web2.yaml', ds('web').replace('"3600"', '"3601"'))
    assert.deepEqual(await dmw('apply', '-f', changed), { code: 0, stdout: 'daemonset.apps/web configured\n', stderr: '' })
    await dmw('apply', '-f', f)
    await waitFor('copies running', async () => {
      const r = await dm('get', 'ds', '-o', 'json')
      const items = (JSON.parse(r.stdout) as { items: { metadata: { name: string }; status: { numberReady: number } }[] }).items
      return items.find((i) => i.metadata.name === 'web')?.status.numberReady === 2 && items.find((i) => i.metadata.name === 'zone-a-only')?.status.numberReady === 1
    }, 20_000)
  })

  it('get ds, -l, TYPE/NAME with go-template, get nodes -l, get pods', async () => {
    const t = await dm('get', 'ds')
    assert.match(t.stdout, /^NAME +DESIRED +CURRENT +READY +UP-TO-DATE +AVAILABLE +NODE SELECTOR +AGE\nweb +2 +2 +2 +2 +2 +<none> +\d+s\nzone-a-only +1 +1 +1 +1 +1 +zone=a +\d+s\n$/)
    assert.equal((await dm('get', 'ds', '-l', 'team=infra', '-o', 'name')).stdout, 'daemonset.apps/web\ndaemonset.apps/zone-a-only\n')
    assert.equal((await dm('get', 'ds', '-l', 'team!=infra', '-o', 'name')).stdout, '')
    assert.equal((await dm('get', 'ds/web', '-o', 'go-template={{.spec.updateStrategy.type}}{{"\\n"}}')).stdout, 'RollingUpdate\n')
    assert.equal((await dm('get', 'nodes', '-l', 'zone in (a,b)', '-o', 'name')).stdout, 'node/cli-1\n')
    const pods = await dm('get', 'pods')
    assert.match(pods.stdout, /^NAME +READY +STATUS +RESTARTS +AGE +NODE\nweb-cli-1 +1\/1 +Running +0 +\d+s +cli-1\nweb-cli-2 +1\/1 +Running +0 +\d+s +cli-2\nzone-a-only-cli-1 +1\/1 +Running +0 +\d+s +cli-1\n$/)
  })

  it('describe ds shows the fields of kubectl describe and why a node has no copy', async () => {
    const r = await dm('describe', 'ds', 'zone-a-only')
    assert.equal(r.code, 0, r.stderr)
    for (const want of [/^Name: +zone-a-only$/m, /^Image\(s\): +daemonmesh-test\/busybox:1$/m, /^Selector: +app=zone-a-only$/m, /^Node-Selector: +zone=a$/m, /^Labels: +team=infra$/m, /^Update Strategy: RollingUpdate \(maxUnavailable 1, maxSurge 0\)$/m, /^Desired Number of Nodes Scheduled: 1$/m, /^Current Number of Nodes Scheduled: 1$/m, /^Number of Nodes Misscheduled: 0$/m, /^Pods Status: +1 Running \/ 0 Waiting \/ 0 Succeeded \/ 0 Failed$/m, /^ +cli-2 +- +- +nodeSelector: node lacks label zone=a$/m, /^Not honoured by the agents:\n  <none>$/m]) {
      assert.match(r.stdout, want)
    }
  })

  it('describe node lists its daemons and why the others are absent', async () => {
    const r = await dm('describe', 'node', 'cli-2')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^Status: +Alive$/m)
    assert.match(r.stdout, /^ +default\/web +Running +true +0 /m)
    assert.match(r.stdout, /^Not running here:\n +DAEMONSET +WHY\n +default\/zone-a-only +nodeSelector: node lacks label zone=a$/m)
  })

  it('plan -f against the live fleet says what each node would gain, keep, lose or update', async () => {
    const f = await file('plan.yaml', `${ds('web', '', 'daemonmesh-test/busybox:2')}---\n${ds('zone-a-only', '      nodeSelector: {zone: b}\n')}---\n${ds('brand-new')}`)
    const before = (await a1.health()).storeDigest
    const r = await dm('plan', '-f', f)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(
      r.stdout,
      [
        'DAEMONSET             NODE    ACTION   REASONS',
        'default/web           cli-1   update',
        'default/web           cli-2   update',
        'default/zone-a-only   cli-1   lose     nodeSelector: node has label zone=a, want zone=b',
        'default/zone-a-only   cli-2   none     nodeSelector: node lacks label zone=b',
        'default/brand-new     cli-1   gain',
        'default/brand-new     cli-2   gain',
        '',
      ].join('\n'),
    )
    assert.equal((await a1.health()).storeDigest, before, 'plan writes nothing')
    const j = JSON.parse((await dm('plan', '-f', f, '-o', 'json')).stdout) as { action: string }[]
    assert.deepEqual(j.map((x) => x.action), ['update', 'update', 'lose', 'none', 'gain', 'gain'])
  })

  it('get endpoints ds/NAME lists node, address, host ports and readiness', async () => {
    const r = await dm('get', 'endpoints', 'ds/zone-a-only')
    assert.equal(r.stdout, 'NODE    ADDRESS     PORTS       READY\ncli-1   127.0.0.1   18081/TCP   true\n')
    const j = JSON.parse((await dm('get', 'endpoints', 'ds/zone-a-only', '-o', 'json')).stdout) as { kind: string; daemonset: string; items: unknown[] }
    assert.deepEqual(j, { kind: 'Endpoints', daemonset: 'default/zone-a-only', items: [{ node: 'cli-1', address: '127.0.0.1', ports: [{ port: 18081, protocol: 'TCP', name: 'http' }], ready: true }] })
    const web = await dm('get', 'endpoints', 'ds/web')
    assert.equal(web.stdout, 'NODE    ADDRESS     PORTS    READY\ncli-1   127.0.0.1   <none>   true\ncli-2   127.0.0.1   <none>   true\n')
  })

  it('bad input gives one clear error and changes nothing', async () => {
    const before = (await a1.health()).storeDigest
    const bad = await file('bad.yaml', ds('bad').replace(`image: ${TEST_IMAGE}`, 'imagePullPolicy: Sometimes'))
    const r1 = await dmw('apply', '-f', bad)
    assert.equal(r1.code, 1)
    assert.match(r1.stderr, /spec\.template\.spec\.containers\[0\]\.image: required/)
    assert.match(r1.stderr, /error: 2 errors found; nothing applied\n$/)
    const r2 = await dm('describe', 'node', 'nope')
    assert.deepEqual(r2, { code: 1, stdout: '', stderr: 'error: nodes "nope" not found\n' })
    const r3 = await runCli('get', 'ds', '--agent', `unix://${join(cluster.root, 'nothing.sock')}`)
    assert.equal(r3.code, 1)
    assert.match(r3.stderr, /^error: cannot reach the agent at .*nothing\.sock: ENOENT \(is the agent running\? pick one with --agent\)\n$/)
    const r4 = await runCli('apply', '-f', bad.replace('bad.yaml', 'two.yaml'), '--agent', a1.target.address, '--key', join(cluster.root, 'missing.key'))
    assert.equal(r4.code, 1)
    assert.match(r4.stderr, /^error: --key .*missing\.key: ENOENT\n$/)
    const stranger = generateKeyPair()
    const strangerFile = await file('stranger.key', stranger.privateKeyPem)
    const r5 = await runCli('apply', '-f', await file('new.yaml', ds('from-stranger')), '--agent', a1.target.address, '--key', strangerFile)
    assert.equal(r5.code, 1)
    assert.match(r5.stderr, /not a trusted operator key/)
    assert.equal((await a1.health()).storeDigest, before, 'nothing was written')
  })

  it('label and taint node are signed overlays the node applies: copies follow', async () => {
    const podsOn = async (dsName: string): Promise<string[]> => {
      const r = await dm('get', 'pods', '-o', 'json')
      return (JSON.parse(r.stdout) as { items: { spec: { daemonSet: string; nodeName: string }; status: { ready: boolean } }[] }).items.filter((p) => p.spec.daemonSet === dsName && p.status.ready).map((p) => p.spec.nodeName).sort()
    }
    assert.equal((await dmw('apply', '-f', await file('ssd.yaml', ds('ssd-only', '      nodeSelector: {disk: ssd}\n')))).code, 0)
    assert.deepEqual(await dmw('label', 'node', 'cli-2', 'disk=ssd'), { code: 0, stdout: 'node/cli-2 labeled\n', stderr: '' })
    await waitFor('ssd-only on cli-2', async () => JSON.stringify(await podsOn('ssd-only')) === '["cli-2"]', 20_000, 200)
    assert.equal((await dm('get', 'nodes', '-l', 'disk=ssd', '-o', 'name')).stdout, 'node/cli-2\n')
    const clash = await dmw('label', 'node', 'cli-2', 'disk=hdd')
    assert.deepEqual(clash, { code: 1, stdout: '', stderr: "error: 'disk' already has a value (ssd), and --overwrite is false\n" })
    assert.deepEqual(await dmw('label', 'node', 'cli-2', 'disk-'), { code: 0, stdout: 'node/cli-2 unlabeled\n', stderr: '' })
    await waitFor('ssd-only gone from cli-2', async () => (await podsOn('ssd-only')).length === 0, 20_000, 200)
    // A label from the node's own configuration can be removed too (and put back).
    assert.equal((await dmw('label', 'node', 'cli-1', 'zone-')).code, 0)
    await waitFor('zone-a-only gone from cli-1', async () => (await podsOn('zone-a-only')).length === 0, 20_000, 200)
    assert.equal((await dmw('label', 'node', 'cli-1', 'zone=a')).code, 0)
    await waitFor('zone-a-only back on cli-1', async () => JSON.stringify(await podsOn('zone-a-only')) === '["cli-1"]', 20_000, 200)

    assert.deepEqual(await dmw('taint', 'node', 'cli-2', 'maintenance=yes:NoExecute'), { code: 0, stdout: 'node/cli-2 tainted\n', stderr: '' })
    await waitFor('web evicted from cli-2', async () => JSON.stringify(await podsOn('web')) === '["cli-1"]', 20_000, 200)
    assert.match((await dm('describe', 'node', 'cli-2')).stdout, /^Taints: +maintenance=yes:NoExecute$/m)
    assert.deepEqual(await dmw('taint', 'node', 'cli-2', 'maintenance:NoExecute-'), { code: 0, stdout: 'node/cli-2 untainted\n', stderr: '' })
    await waitFor('web back on cli-2', async () => JSON.stringify(await podsOn('web')) === '["cli-1","cli-2"]', 20_000, 200)
    assert.deepEqual(await dmw('label', 'node', 'nope', 'a=b'), { code: 1, stdout: '', stderr: 'error: nodes "nope" not found\n' })
    assert.equal((await dmw('taint', 'node', 'cli-2', 'bad')).code, 2)
  })

  it('set image changes the template with a signed write', async () => {
    const before = (JSON.parse((await dm('get', 'ds/ssd-only', '-o', 'json')).stdout) as { status: { currentRevision: string } }).status.currentRevision
    assert.deepEqual(await dmw('set', 'image', 'ds/ssd-only', 'main=daemonmesh-test/busybox:2'), { code: 0, stdout: 'daemonset.apps/ssd-only image updated\n', stderr: '' })
    const after = JSON.parse((await dm('get', 'ds/ssd-only', '-o', 'json')).stdout) as { spec: { template: { spec: { containers: { image: string }[] } } }; status: { currentRevision: string } }
    assert.equal(after.spec.template.spec.containers[0]?.image, 'daemonmesh-test/busybox:2')
    assert.notEqual(after.status.currentRevision, before)
    assert.deepEqual(await dmw('set', 'image', 'ds/ssd-only', 'main=daemonmesh-test/busybox:2'), { code: 0, stdout: 'daemonset.apps/ssd-only image unchanged\n', stderr: '' })
    assert.deepEqual(await dmw('set', 'image', 'ds/ssd-only', 'sidecar=x:1'), { code: 1, stdout: '', stderr: 'error: unable to find container named "sidecar"\n' })
    assert.equal((await dmw('set', 'image', 'ds/nope', 'main=x:1')).code, 1)
    assert.equal((await dmw('set', 'image', 'ssd-only', 'main=x:1')).code, 2)
  })

  it('rollout status, history, undo and restart', async () => {
    // set image (the test before) made revision 2 of ssd-only.
    assert.match((await dm('rollout', 'status', 'ds/ssd-only', '--timeout', '60s')).stdout, /daemon set "ssd-only" successfully rolled out\n$/)
    assert.match((await dm('rollout', 'history', 'ds/ssd-only')).stdout, /^daemonset\.apps\/ssd-only\nREVISION +CHANGE-CAUSE\n1 +<none>\n2 +<none>\n$/)
    const one = await dm('rollout', 'history', 'ds/ssd-only', '--revision', '1')
    assert.match(one.stdout, /^daemonset\.apps\/ssd-only with revision #1\nPod Template:\n[^]*image: daemonmesh-test\/busybox:1/)
    assert.deepEqual(await dmw('rollout', 'undo', 'ds/ssd-only', '--to-revision', '9'), { code: 1, stdout: '', stderr: 'error: unable to find specified revision 9 in history\n' })
    assert.deepEqual(await dmw('rollout', 'undo', 'ds/ssd-only'), { code: 0, stdout: 'daemonset.apps/ssd-only rolled back\n', stderr: '' })
    const image = async (): Promise<string | undefined> => (JSON.parse((await dm('get', 'ds/ssd-only', '-o', 'json')).stdout) as { spec: { template: { spec: { containers: { image: string }[] } } } }).spec.template.spec.containers[0]?.image
    assert.equal(await image(), TEST_IMAGE)
    assert.deepEqual(await dmw('rollout', 'undo', 'ds/ssd-only', '--to-revision', '3'), { code: 0, stdout: 'daemonset.apps/ssd-only skipped rollback (current template already matches revision 3)\n', stderr: '' })
    assert.match((await dm('rollout', 'history', 'ds/ssd-only')).stdout, /\n2 +<none>\n3 +<none>\n$/)
    assert.deepEqual(await dmw('rollout', 'restart', 'ds/ssd-only'), { code: 0, stdout: 'daemonset.apps/ssd-only restarted\n', stderr: '' })
    assert.match((await dm('rollout', 'history', 'ds/ssd-only')).stdout, /\n4 +<none>\n$/)
    assert.match((await dm('rollout', 'status', 'ds/ssd-only', '--timeout', '60s')).stdout, /successfully rolled out\n$/)
    // On a terminal the line is redrawn in place.
    const tty = Object.assign(new PassThrough(), { isTTY: true })
    let drawn = ''
    tty.on('data', (d: Buffer) => (drawn += d.toString()))
    await rolloutStatus('ds/ssd-only', { timeout: '10s' }, a1.target, tty)
    assert.equal(drawn, '\r\x1b[Kdaemon set "ssd-only" successfully rolled out\n')
    assert.deepEqual(await dm('rollout', 'status', 'ds/nope'), { code: 1, stdout: '', stderr: 'error: daemonsets.apps "nope" not found\n' })
    assert.equal((await dm('rollout', 'status', 'ssd-only')).code, 2)
    assert.equal((await dm('rollout', 'status', 'ds/ssd-only', '--timeout', 'soon')).code, 2)
    assert.deepEqual(await dm('rollout', 'restart', 'ds/ssd-only', '--key', '/nonexistent'), { code: 1, stdout: '', stderr: 'error: --key /nonexistent: ENOENT\n' })
  })

  it('OnDelete: a new template waits until a copy is deleted; then only that host moves', async () => {
    const revisions = async (): Promise<Record<string, string>> => {
      const r = await dm('get', 'pods', '-o', 'json')
      const items = (JSON.parse(r.stdout) as { items: { spec: { daemonSet: string; nodeName: string }; status: { revision: string; ready: boolean } }[] }).items
      return Object.fromEntries(items.filter((p) => p.spec.daemonSet === 'ondel' && p.status.ready).map((p) => [p.spec.nodeName, p.status.revision]))
    }
    const f = await file('ondel.yaml', ds('ondel').replace('spec:\n  selector', 'spec:\n  updateStrategy: {type: OnDelete}\n  selector').replace(`image: ${TEST_IMAGE}`, `image: ${TEST_IMAGE}\n        imagePullPolicy: IfNotPresent`))
    assert.equal((await dmw('apply', '-f', f)).code, 0)
    const r0 = await waitFor('ondel on both', async () => {
      const r = await revisions()
      return Object.keys(r).length === 2 ? r : undefined
    }, 20_000, 200)
    assert.equal((await dmw('set', 'image', 'ds/ondel', 'main=daemonmesh-test/busybox:2')).code, 0)
    await new Promise((res) => setTimeout(res, 3000))
    assert.deepEqual(await revisions(), r0, 'nothing changes until a copy is deleted')
    assert.deepEqual(await dmw('delete', 'pod', 'ondel-cli-2'), { code: 0, stdout: 'pod "ondel-cli-2" deleted\n', stderr: '' })
    const r1 = await waitFor('cli-2 on the new revision', async () => {
      const r = await revisions()
      return r['cli-2'] !== undefined && r['cli-2'] !== r0['cli-2'] ? r : undefined
    }, 20_000, 200)
    assert.equal(r1['cli-1'], r0['cli-1'], 'cli-1 kept its copy')
    assert.deepEqual(await dmw('delete', 'pod', 'ds/ondel', '--node', 'cli-1'), { code: 0, stdout: 'pod "ondel-cli-1" deleted\n', stderr: '' })
    await waitFor('both on the new revision', async () => {
      const r = await revisions()
      return r['cli-1'] === r1['cli-2'] && r['cli-2'] === r1['cli-2']
    }, 20_000, 200)
    assert.equal((await dmw('delete', 'pod', 'nope-cli-1')).code, 1)
  })

  it('delete -f deletes the DaemonSets of a manifest', async () => {
    const f = join(cluster.root, 'two.yaml')
    assert.deepEqual(await dmw('delete', '-f', f), { code: 0, stdout: 'daemonset.apps "web" deleted\ndaemonset.apps "zone-a-only" deleted\n', stderr: '' })
    assert.equal((await dm('get', 'ds', '-o', 'name')).stdout, 'daemonset.apps/ondel\ndaemonset.apps/ssd-only\n')
  })

  it('apply -f a Helm-shaped bundle and a directory: other kinds skipped once each, warnings as kubectl\'s, ConfigMaps and DaemonSets applied; delete -f likewise', async () => {
    const bundle = repoPath('test/fixtures/bundles/fluent-bit.yaml')
    const dir = repoPath('test/fixtures/bundles/node-exporter')
    // The ConfigMap is applied in document order, between the objects skipped.
    const fluentBit = (cm: string, ds: string): string =>
      [
        'serviceaccount/fluent-bit skipped: not used by daemonmesh',
        cm,
        'clusterrole.rbac.authorization.k8s.io/fluent-bit skipped: not used by daemonmesh',
        'clusterrolebinding.rbac.authorization.k8s.io/fluent-bit skipped: not used by daemonmesh',
        ds,
        '',
      ].join('\n')
    const fluentBitWarnings = [
      `Warning: ${bundle} (document 6): DaemonSet logging/fluent-bit: spec.template.spec.serviceAccountName: no service account token is mounted (there is no API server); the name reaches the downward API only`,
      '',
    ].join('\n')
    assert.deepEqual(await dmw('apply', '-f', bundle), { code: 0, stdout: fluentBit('configmap/fluent-bit created', 'daemonset.apps/fluent-bit created'), stderr: fluentBitWarnings })
    assert.deepEqual(await dmw('apply', '-f', bundle), { code: 0, stdout: fluentBit('configmap/fluent-bit unchanged', 'daemonset.apps/fluent-bit unchanged'), stderr: fluentBitWarnings })
    assert.match((await dm('get', 'cm', '-n', 'logging')).stdout, /^NAME +DATA +AGE\nfluent-bit +\d+ +\d+s\n$/)
    const stored = JSON.parse((await dm('get', 'ds/fluent-bit', '-n', 'logging', '-o', 'json')).stdout) as { spec: { template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } } } }
    assert.deepEqual([stored.spec.template.spec.tolerations, stored.spec.template.spec.nodeSelector, stored.spec.template.spec.containers[0]?.resources], [undefined, undefined, undefined], 'the nulls were dropped')

    const nodeExporterSkipped = [
      'namespace/monitoring skipped: not used by daemonmesh',
      'serviceaccount/node-exporter skipped: not used by daemonmesh',
      'clusterrole.rbac.authorization.k8s.io/node-exporter skipped: not used by daemonmesh',
      'clusterrolebinding.rbac.authorization.k8s.io/node-exporter skipped: not used by daemonmesh',
    ]
    const nodeExporterWarnings = [
      `Warning: ${join(dir, '20-daemonset.yml')}: DaemonSet monitoring/node-exporter: spec.template.spec.priorityClassName: not supported (ignored)`,
      `Warning: ${join(dir, '20-daemonset.yml')}: DaemonSet monitoring/node-exporter: spec.template.spec.securityContext.runAsNonRoot: not supported (ignored)`,
      '',
    ].join('\n')
    assert.deepEqual(await dmw('apply', '-f', dir), { code: 0, stdout: [...nodeExporterSkipped, 'daemonset.apps/node-exporter created', 'service/node-exporter skipped: not used by daemonmesh', ''].join('\n'), stderr: nodeExporterWarnings })
    assert.deepEqual(await dmw('apply', '-R', '-f', dir), {
      code: 0,
      stdout: [...nodeExporterSkipped, 'daemonset.apps/node-exporter unchanged', 'service/node-exporter skipped: not used by daemonmesh', 'servicemonitor.monitoring.coreos.com/node-exporter skipped: not used by daemonmesh', ''].join('\n'),
      stderr: nodeExporterWarnings,
    })
    // By namespace, then name, as kubectl lists them.
    assert.equal((await dm('get', 'ds', '-A', '-o', 'name')).stdout, 'daemonset.apps/ondel\ndaemonset.apps/ssd-only\ndaemonset.apps/fluent-bit\ndaemonset.apps/node-exporter\n')

    assert.deepEqual(await dmw('delete', '-f', bundle), { code: 0, stdout: fluentBit('configmap "fluent-bit" deleted', 'daemonset.apps "fluent-bit" deleted'), stderr: '' })
    assert.equal((await dm('get', 'cm', '-A')).stdout, 'No resources found\n')
    assert.deepEqual(await dmw('delete', '-f', dir), { code: 0, stdout: [...nodeExporterSkipped, 'daemonset.apps "node-exporter" deleted', 'service/node-exporter skipped: not used by daemonmesh', ''].join('\n'), stderr: '' })
    assert.equal((await dm('get', 'ds', '-A', '-o', 'name')).stdout, 'daemonset.apps/ondel\ndaemonset.apps/ssd-only\n')
  })

  it('completion prints bash and zsh scripts', async () => {
    assert.match((await runCli('completion', 'bash')).stdout, /complete -F _daemonmesh daemonmesh/)
    assert.match((await runCli('completion', 'zsh')).stdout, /^#compdef daemonmesh/)
    assert.equal((await runCli('completion', 'fish')).code, 2)
  })
})
