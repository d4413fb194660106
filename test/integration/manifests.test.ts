// Published manifests as they are written, on real agents and this machine's dockerd:
// describe ds says what the agents do not honour; the downward API (env with $(HOST_IP)
// expansion, downwardAPI volume files); hostPath types checked or created as kubelet does
// (an init-free calico-shaped FileOrCreate mount); emptyDir volumes that belong to one pod;
// ConfigMaps applied with their bundle, read by the container, edits reaching its files.

import assert from 'node:assert/strict'
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { TEST_IMAGE, buildTestImage, docker, managed, removeManaged, requireDocker } from '../helpers/docker.js'

const HOST = 'unix:///var/run/docker.sock'
const skip = await requireDocker(HOST)

/** A DaemonSet whose pod spec body (`spec`, indented six spaces) the test writes in full. */
const ds = (name: string, spec: string): string => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}, tier: node}, annotations: {team: infra}}
    spec:
      terminationGracePeriodSeconds: 1
${spec}`

describe('published manifests on real agents', { skip }, () => {
  let cluster: TestCluster
  let a1: TestAgent
  let a2: TestAgent
  const names = ['mf-1', 'mf-2']
  const CONFIGURED_IP = '198.51.100.7'

  const apply = async (text: string): Promise<{ stdout: string; stderr: string }> => {
    const f = join(cluster.root, `ds-${Math.random()}.yaml`)
    await writeFile(f, text)
    const r = await runCli('apply', '-f', f, '--agent', a1.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    return r
  }
  const containers = async (dsName: string, node = 'mf-1') => (await managed(HOST, [node])).filter((r) => r.daemonSet === `default.${dsName}`)
  /** running waits for one running container per name of the DaemonSet's pod on `node` (of `revision` when given) and returns their ids by container name. */
  const running = async (dsName: string, want: string[], node = 'mf-1', revision?: string): Promise<Record<string, string>> =>
    waitFor(`${dsName} running on ${node}`, async () => {
      const rows = (await containers(dsName, node)).filter((r) => r.state === 'running' && (revision === undefined || r.revision === revision))
      const byName = Object.fromEntries(rows.map((r) => [r.name.split('_')[3] ?? '', r.id]))
      return want.every((c) => byName[c] !== undefined) ? byName : undefined
    }, 30_000)
  const exec = (id: string, ...cmd: string[]): Promise<string> => docker(HOST, 'exec', id, ...cmd)
  const hostIPOf = async (node: string): Promise<string | undefined> => {
    const n = (await a1.nodes()).find((x) => x.metadata.name === node)
    return (n?.status as { hostIP?: string } | undefined)?.hostIP
  }
  const podDirs = (): Promise<string[]> => readdir(join(a1.dir, 'pods')).catch(() => [])
  const volumes = async (label: string): Promise<string[]> => (await docker(HOST, 'volume', 'ls', '-q', '--filter', `label=${label}`)).split('\n').filter((l) => l !== '')

  before(async () => {
    await buildTestImage(HOST)
    await removeManaged(HOST, names)
    cluster = await TestCluster.create('mf', 3000)
    a1 = await cluster.agent({ name: 'mf-1', docker: HOST, labels: { role: 'one' } }).start()
    a2 = await cluster.agent({ name: 'mf-2', docker: HOST, bootstrap: [await a1.address()], extra: ['--node-ip', CONFIGURED_IP] }).start()
    await waitFor('2 alive', async () => (await a1.nodes()).filter((n) => n.status.state === 'Alive').length === 2, 20_000)
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, names)
    for (const n of names) {
      const left = await volumes(`daemonmesh.io/node=${n}`).catch(() => [])
      if (left.length > 0) await docker(HOST, 'volume', 'rm', '-f', ...left).catch(() => undefined)
    }
  })

  it('describe ds lists the fields the agents do not honour, as apply warned', async () => {
    const r = await apply(ds('mf-unhonoured', `      nodeSelector: {role: one}
      volumes: [{name: cfg, nfs: {server: nfs.example, path: /export}}]
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
        stdinOnce: true
        volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
`))
    assert.match(r.stderr, /Warning: .*spec\.template\.spec\.volumes\[0\]\.nfs: not supported/)
    const d = await runCli('describe', 'ds', 'mf-unhonoured', '--agent', a2.target.address)
    assert.equal(d.code, 0, d.stderr)
    assert.match(
      d.stdout,
      /^Not honoured by the agents:\n  spec\.template\.spec\.volumes\[0\]\.nfs: not supported: only hostPath, emptyDir, configMap, secret, downwardAPI and projected \(downwardAPI, configMap, secret\) volumes are mounted\n  spec\.template\.spec\.containers\[0\]\.stdinOnce: not supported \(ignored\)\n/m,
    )
    assert.equal((await runCli('delete', 'ds', 'mf-unhonoured', '--agent', a1.target.address, '--key', cluster.operatorKeyFile)).code, 0)
  })

  it('$(HOST_IP) expands to the host\'s address; the downward API reaches env and files', async () => {
    await apply(ds('mf-downward', `      hostNetwork: true
      serviceAccountName: mf-agent
      volumes:
      - name: podinfo
        downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
          - {path: uid, fieldRef: {fieldPath: metadata.uid}}
          - {path: limits/memory, resourceFieldRef: {containerName: main, resource: limits.memory, divisor: 1Mi}, mode: 0400}
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sh", "-c", "echo listening on $(HOST_IP):9100; exec sleep 3600"]
        resources: {limits: {memory: 64Mi, cpu: 250m}}
        env:
        - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: POD_UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
        - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
        - {name: CPU_MILLIS, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
        - {name: KUBELET, value: "https://$(HOST_IP):10250"}
        volumeMounts: [{name: podinfo, mountPath: /etc/podinfo}]
`))
    const ip1 = await waitFor('mf-1 reports its host IP', () => hostIPOf('mf-1'))
    const own = Object.values(networkInterfaces()).flatMap((l) => l ?? []).map((a) => a.address)
    assert.ok(own.includes(ip1), `${ip1} is an address of this host (${own.join(', ')})`)
    if (Object.values(networkInterfaces()).flatMap((l) => l ?? []).some((a) => !a.internal && a.family === 'IPv4')) assert.ok(!ip1.startsWith('127.'), `an agent listening on loopback still gives the host's address, not ${ip1}`)
    assert.equal(await hostIPOf('mf-2'), CONFIGURED_IP, '--node-ip is the host IP')
    for (const [node, ip] of [['mf-1', ip1], ['mf-2', CONFIGURED_IP]] as const) {
      const { main } = await running('mf-downward', ['main'], node)
      assert.ok(main)
      const env = (await exec(main, 'env')).split('\n')
      const uid = env.find((l) => l.startsWith('POD_UID='))?.slice('POD_UID='.length) ?? ''
      assert.match(uid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      for (const want of [`HOST_IP=${ip}`, `POD_IP=${ip}`, 'SA=mf-agent', 'CPU_MILLIS=250', `KUBELET=https://${ip}:10250`]) assert.ok(env.includes(want), `${node}: ${want} in ${env.join(' ')}`)
      const inspect = JSON.parse(await docker(HOST, 'inspect', main)) as [{ Config: { Entrypoint: string[] } }]
      assert.deepEqual(inspect[0].Config.Entrypoint, ['sh', '-c', `echo listening on ${ip}:9100; exec sleep 3600`])
      assert.equal(await exec(main, 'cat', '/etc/podinfo/labels'), 'app="mf-downward"\ntier="node"')
      assert.equal(await exec(main, 'cat', '/etc/podinfo/annotations'), 'team="infra"')
      assert.equal(await exec(main, 'cat', '/etc/podinfo/uid'), uid)
      assert.equal(await exec(main, 'cat', '/etc/podinfo/limits/memory'), '64')
      assert.match(await exec(main, 'ls', '-lL', '/etc/podinfo/limits/memory'), /^-r-------- /)
      // Read-only, as Kubernetes mounts downwardAPI volumes.
      await assert.rejects(exec(main, 'sh', '-c', 'echo x > /etc/podinfo/uid'))
    }
  })

  it('an init-free calico-shaped FileOrCreate mount works: the lock file and the state directory are made as kubelet makes them', async () => {
    const host = join(cluster.root, 'host')
    // FileOrCreate makes the file, not its parent (as in Kubernetes); DirectoryOrCreate makes every missing level.
    await mkdir(join(host, 'run'), { recursive: true })
    await apply(ds('mf-calico', `      hostNetwork: true
      nodeSelector: {role: one}
      volumes:
      - {name: xtables-lock, hostPath: {path: ${host}/run/xtables.lock, type: FileOrCreate}}
      - {name: var-lib-calico, hostPath: {path: ${host}/var/lib/calico, type: DirectoryOrCreate}}
      - {name: nodename, hostPath: {path: ${host}/var/lib/calico, type: Directory}}
      containers:
      - name: calico-node
        image: ${TEST_IMAGE}
        command: ["sh", "-c", "test -f /run/xtables.lock && echo ready > /var/lib/calico/status; exec sleep 3600"]
        volumeMounts:
        - {name: xtables-lock, mountPath: /run/xtables.lock}
        - {name: var-lib-calico, mountPath: /var/lib/calico}
        - {name: nodename, mountPath: /var/lib/felix, subPath: felix}
`))
    await running('mf-calico', ['calico-node'])
    const lock = await stat(join(host, 'run/xtables.lock'))
    assert.ok(lock.isFile())
    assert.equal(lock.mode & 0o777, 0o644)
    for (const d of ['var', 'var/lib', 'var/lib/calico']) assert.equal((await stat(join(host, d))).mode & 0o777, 0o755, d)
    assert.ok((await stat(join(host, 'var/lib/calico/felix'))).isDirectory(), 'a missing subPath is made a directory')
    assert.equal(await waitFor('the container wrote through its mount', () => readFile(join(host, 'var/lib/calico/status'), 'utf8').catch(() => undefined)), 'ready\n')
  })

  it('a failed hostPath check is a clear pod error, and nothing of the pod is started', async () => {
    const host = join(cluster.root, 'host')
    await mkdir(host, { recursive: true })
    await writeFile(join(host, 'not-a-socket'), '')
    await apply(ds('mf-badpath', `      nodeSelector: {role: one}
      volumes:
      - {name: docker-sock, hostPath: {path: ${host}/not-a-socket, type: Socket}}
      - {name: scratch, emptyDir: {}}
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
        volumeMounts: [{name: docker-sock, mountPath: /var/run/docker.sock}, {name: scratch, mountPath: /scratch}]
`))
    const err = await waitFor('the pod error in the node record', async () => (await a1.nodes()).find((n) => n.metadata.name === 'mf-1')?.status.pods?.['default/mf-badpath']?.lastError)
    assert.match(err, new RegExp(`MountVolume\\.SetUp failed for volume "docker-sock": hostPath type check failed: ${host}/not-a-socket is not a socket file`))
    assert.deepEqual(await containers('mf-badpath'), [])
    // mf-1 knows its own error at once; mf-2 learns it from mf-1's record, published by gossip
    // (at most membership.recordSpacingMs after mf-1's previous publication).
    await waitFor('the pod error in mf-2\'s copy of the record', async () => (await a2.nodes()).find((n) => n.metadata.name === 'mf-1')?.status.pods?.['default/mf-badpath']?.lastError)
    const pods = await runCli('get', 'pods', '-o', 'wide', '--agent', a2.target.address)
    assert.match(pods.stdout, /mf-badpath-mf-1 +0\/1 +CreateContainerError .*MountVolume\.SetUp failed for volume "docker-sock"/)
  })

  it('an emptyDir belongs to one pod: shared by its containers (one tmpfs in memory), new for a new revision, removed with the pod', async () => {
    const spec = (gen: string): string => ds('mf-empty', `      nodeSelector: {role: one}
      volumes:
      - {name: scratch, emptyDir: {}}
      - {name: shm, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
      containers:
      - name: writer
        image: ${TEST_IMAGE}
        command: ["sh", "-c", "echo ${gen} >> /scratch/generations; echo ${gen} > /shm/gen; exec sleep 3600"]
        volumeMounts: [{name: scratch, mountPath: /scratch}, {name: shm, mountPath: /shm}]
      - name: reader
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
        volumeMounts: [{name: scratch, mountPath: /data, readOnly: true}, {name: shm, mountPath: /dev/shm}]
`)
    await apply(spec('one'))
    const first = await running('mf-empty', ['writer', 'reader'])
    const reader1 = first.reader ?? ''
    assert.equal(await waitFor('the reader sees the writer\'s tmpfs', () => exec(reader1, 'cat', '/dev/shm/gen').catch(() => undefined)), 'one\n')
    assert.equal(await exec(reader1, 'cat', '/data/generations'), 'one\n')
    const mount = (await exec(reader1, 'cat', '/proc/mounts')).split('\n').find((l) => l.split(' ')[1] === '/dev/shm')
    assert.match(mount ?? '', /^tmpfs \/dev\/shm tmpfs .*size=8192k/)
    await assert.rejects(exec(reader1, 'sh', '-c', 'echo x > /data/x'), 'a readOnly mount of an emptyDir')
    const [row1] = await containers('mf-empty')
    const pod1 = `dm_default_mf-empty_${row1?.revision}_mf-1`
    assert.ok((await podDirs()).includes(pod1))
    assert.deepEqual(await volumes(`daemonmesh.io/pod=${pod1}`), [`${pod1}_shm`])

    await apply(spec('two'))
    const rev2 = await waitFor('the new revision runs', async () => (await containers('mf-empty')).find((r) => r.revision !== row1?.revision && r.state === 'running')?.revision)
    const second = await running('mf-empty', ['writer', 'reader'], 'mf-1', rev2)
    assert.equal(await waitFor('the new writer wrote', () => exec(second.reader ?? '', 'cat', '/data/generations').catch(() => undefined)), 'two\n', 'a new pod starts with an empty emptyDir')
    await waitFor('the old pod\'s volumes are gone', async () => !(await podDirs()).includes(pod1) && (await volumes(`daemonmesh.io/pod=${pod1}`)).length === 0)

    const pod2 = `dm_default_mf-empty_${rev2}_mf-1`
    assert.equal((await runCli('delete', 'ds', 'mf-empty', '--agent', a1.target.address, '--key', cluster.operatorKeyFile)).code, 0)
    await waitFor('the deleted pod\'s volumes are gone', async () => (await containers('mf-empty')).length === 0 && !(await podDirs()).includes(pod2) && (await volumes(`daemonmesh.io/pod=${pod2}`)).length === 0)
  })

  it('a fluent-bit-shaped bundle applies; the container reads its config; a ConfigMap edit reaches the file without a restart; env is the pod\'s', async () => {
    const bundle = (conf: string, level: string): string => `apiVersion: v1
kind: ServiceAccount
metadata: {name: mf-fluent}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: mf-fluent}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: mf-fluent}
data:
  fluent-bit.conf: |
    ${conf}
  LOG_LEVEL: ${level}
---
${ds('mf-fluent', `      nodeSelector: {role: one}
      serviceAccountName: mf-fluent
      volumes: [{name: config, configMap: {name: mf-fluent}}]
      containers:
      - name: fluent-bit
        image: ${TEST_IMAGE}
        command: ["sh", "-c", "cat /fluent-bit/etc/fluent-bit.conf; exec sleep 3600"]
        env: [{name: LEVEL, valueFrom: {configMapKeyRef: {name: mf-fluent, key: LOG_LEVEL}}}]
        envFrom: [{configMapRef: {name: mf-fluent}, prefix: FB_}]
        volumeMounts: [{name: config, mountPath: /fluent-bit/etc}, {name: config, mountPath: /etc/fluent.conf, subPath: fluent-bit.conf}]
`)}`
    const r = await apply(bundle('[SERVICE] Flush 1', 'info'))
    assert.equal(r.stdout, ['serviceaccount/mf-fluent skipped: not used by daemonmesh', 'clusterrole.rbac.authorization.k8s.io/mf-fluent skipped: not used by daemonmesh', 'configmap/mf-fluent created', 'daemonset.apps/mf-fluent created', ''].join('\n'))
    const { 'fluent-bit': id } = await running('mf-fluent', ['fluent-bit'])
    assert.ok(id)
    assert.equal(await exec(id, 'cat', '/fluent-bit/etc/fluent-bit.conf'), '[SERVICE] Flush 1\n')
    assert.equal(await exec(id, 'cat', '/etc/fluent.conf'), '[SERVICE] Flush 1\n', 'a subPath mount of one key')
    assert.equal(await waitFor('the container read its config', async () => (await docker(HOST, 'logs', id)) || undefined), '[SERVICE] Flush 1\n')
    const env = (await exec(id, 'env')).split('\n')
    for (const want of ['LEVEL=info', 'FB_LOG_LEVEL=info']) assert.ok(env.includes(want), `${want} in ${env.join(' ')}`)
    assert.match((await runCli('get', 'cm', 'mf-fluent', '--agent', a2.target.address)).stdout, /^NAME +DATA +AGE\nmf-fluent +2 +\d+s\n$/)
    const described = await runCli('describe', 'cm', 'mf-fluent', '--agent', a2.target.address)
    assert.equal(described.code, 0, described.stderr)
    assert.match(described.stdout, /^Name: +mf-fluent\nNamespace: +default\n[\s\S]*\nData\n====\nLOG_LEVEL:\n----\ninfo\n\nfluent-bit\.conf:\n----\n\[SERVICE\] Flush 1\n\n[\s\S]*\nUsed by: +daemonset\.apps\/mf-fluent\n$/)

    const edited = await apply(bundle('[SERVICE] Flush 5', 'debug'))
    assert.match(edited.stdout, /^configmap\/mf-fluent configured\ndaemonset\.apps\/mf-fluent unchanged$/m)
    const started = Date.now()
    await waitFor('the edit reaches the mounted file', async () => (await exec(id, 'cat', '/fluent-bit/etc/fluent-bit.conf')) === '[SERVICE] Flush 5\n', 60_000, 250)
    assert.ok(Date.now() - started < 60_000)
    const [inspect] = JSON.parse(await docker(HOST, 'inspect', id)) as [{ RestartCount: number; State: { Running: boolean } }]
    assert.deepEqual([inspect.RestartCount, inspect.State.Running], [0, true], 'the same container, not restarted')
    assert.deepEqual(await running('mf-fluent', ['fluent-bit']), { 'fluent-bit': id })
    assert.ok((await exec(id, 'env')).split('\n').includes('LEVEL=info'), 'env changes only with a new pod')
    assert.equal(await exec(id, 'cat', '/etc/fluent.conf'), '[SERVICE] Flush 1\n', 'a subPath mount keeps what it mounted, as in Kubernetes')
  })

  it('a pod whose ConfigMap does not exist starts nothing and says so, then starts once it is created', async () => {
    await apply(ds('mf-waits', `      nodeSelector: {role: one}
      volumes: [{name: config, configMap: {name: mf-later}}]
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
        volumeMounts: [{name: config, mountPath: /etc/later}]
`))
    const err = await waitFor('the pod error', async () => (await a1.nodes()).find((n) => n.metadata.name === 'mf-1')?.status.pods?.['default/mf-waits']?.lastError)
    assert.equal(err, 'CreateContainerError: configmap "mf-later" not found')
    assert.deepEqual(await containers('mf-waits'), [])
    const file = join(cluster.root, 'greeting')
    await writeFile(file, 'hello')
    const created = await runCli('create', 'configmap', 'mf-later', '--from-file', file, '--agent', a1.target.address, '--key', cluster.operatorKeyFile)
    assert.deepEqual(created, { code: 0, stdout: 'configmap/mf-later created\n', stderr: '' })
    assert.match((await runCli('create', 'configmap', 'mf-later', '--from-literal', 'a=b', '--agent', a1.target.address, '--key', cluster.operatorKeyFile)).stderr, /configmaps "mf-later" already exists/)
    const { main } = await running('mf-waits', ['main'], 'mf-1')
    assert.equal(await exec(main ?? '', 'cat', '/etc/later/greeting'), 'hello')
  })

  it('a ConfigMap near the size bound reaches every agent; one past it is refused with the reason', async () => {
    const big = 'x'.repeat(190 * 1024)
    await apply(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mf-big}\ndata: {big: ${big}}\n`)
    await waitFor('the big ConfigMap on the other agent', async () => (await runCli('get', 'cm', 'mf-big', '-o', 'name', '--agent', a2.target.address)).stdout === 'configmap/mf-big\n', 20_000)
    const f = join(cluster.root, 'too-big.yaml')
    await writeFile(f, `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mf-too-big}\ndata: {big: ${'x'.repeat(193 * 1024)}}\n`)
    const r = await runCli('apply', '-f', f, '--agent', a1.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /ConfigMap default\/mf-too-big: Too long: a ConfigMap must have at most 196608 bytes as JSON/)
  })
})
