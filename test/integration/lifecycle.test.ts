// The pod lifecycle with a real agent and this machine's dockerd (node lc-1): a daemon that
// hangs (its liveness probe fails) is restarted with the kubelet's back-off, counted in
// RESTARTS and shown as CrashLoopBackOff; init containers run to completion before the
// pod's containers and share its volumes; preStop runs before the stop signal and postStart
// right after the start. One agent serves every case; the first back-off is 3 s here
// (10 s in production).

import assert from 'node:assert/strict'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { TEST_IMAGE, buildTestImage, docker, managed, removeManaged, requireDocker } from '../helpers/docker.js'

const HOST = 'unix:///var/run/docker.sock'
const NODE = 'lc-1'
const skip = await requireDocker(HOST)

const ds = (name: string, podSpec: string): string => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${podSpec
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
`

describe('the pod lifecycle with a real dockerd', { skip }, () => {
  let cluster: TestCluster
  let agent: TestAgent
  let marks: string

  const cli = async (...args: string[]): Promise<string> => {
    const r = await runCli(...args, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const get = async (...args: string[]): Promise<string> => {
    const r = await runCli(...args, '--agent', agent.target.address)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    return r.stdout
  }
  const apply = async (text: string): Promise<void> => {
    const f = join(cluster.root, `ds-${Math.random()}.yaml`)
    await writeFile(f, text)
    await cli('apply', '-f', f)
  }
  /** pod returns the `get pods` row of NAME's copy: [name, ready, status, restarts, age, node]. */
  const pod = async (name: string): Promise<string[] | undefined> => {
    const out = await get('get', 'pods')
    return out.split('\n').map((l) => l.trim().split(/\s+/)).find((r) => r[0] === `${name}-${NODE}`)
  }
  const running = async (name: string, container = 'main'): Promise<string | undefined> =>
    (await managed(HOST, [NODE])).find((r) => r.daemonSet === `default.${name}` && r.name.includes(`_${container}_`) && r.state === 'running')?.id

  before(async () => {
    await buildTestImage(HOST)
    await removeManaged(HOST, [NODE])
    marks = await mkdtemp(join(tmpdir(), 'lc-marks-'))
    cluster = await TestCluster.create('lc', 3000)
    cluster.logLevel = 'info'
    agent = await cluster.agent({ name: NODE, docker: HOST, env: { DAEMONMESH_TEST_TIMINGS: JSON.stringify({ reconciler: { backoffStartMs: 3000 } }) } }).start()
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, [NODE])
  })

  it('a daemon that hangs is restarted by its liveness probe, RESTARTS grows and the back-off doubles', async () => {
    await apply(
      ds(
        'lc-live',
        `containers:
- name: main
  image: ${TEST_IMAGE}
  command: ["sh", "-c", "echo ok > /tmp/healthy; exec sleep 3600"]
  livenessProbe:
    exec: {command: ["cat", "/tmp/healthy"]}
    periodSeconds: 1
    failureThreshold: 2
terminationGracePeriodSeconds: 1`,
      ),
    )
    const first = await waitFor('lc-live running', () => running('lc-live'), 30_000)
    assert.equal((await pod('lc-live'))?.[3], '0')
    // The daemon "hangs": its health file goes, the process stays.
    await docker(HOST, 'exec', first, '/bin/busybox', 'rm', '/tmp/healthy')
    const looping = await waitFor('CrashLoopBackOff shown', async () => {
      const r = await pod('lc-live')
      return r?.[2] === 'CrashLoopBackOff' ? r : undefined
    }, 20_000, 200)
    assert.equal(looping[3], '1', 'one restart counted')
    await waitFor('lc-live running again after the back-off', async () => (await pod('lc-live'))?.[2] === 'Running', 20_000, 200)
    const second = await waitFor('lc-live running', () => running('lc-live'), 10_000)
    assert.equal(second, first, 'the same container, restarted')
    await docker(HOST, 'exec', second, '/bin/busybox', 'rm', '/tmp/healthy')
    await waitFor('the second restart, backed off twice as long', async () => {
      return /CrashLoopBackOff\s+2\s.*back-off 6s restarting failed container: Liveness probe failed/.test(await get('get', 'pods', '-o', 'wide'))
    }, 20_000, 200)
    // What happened, as events: kubectl's columns, the copy's pod as the object.
    const events = await get('get', 'events', '--for', 'ds/lc-live')
    process.stderr.write(events)
    assert.match(events.split('\n')[0] ?? '', /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE/)
    for (const re of [/Normal\s+Started\s+pod\/lc-live-lc-1/, /Warning\s+Unhealthy\s+pod\/lc-live-lc-1\s+Liveness probe failed/, /Normal\s+Killing\s+pod\/lc-live-lc-1/, /Warning\s+BackOff\s+pod\/lc-live-lc-1\s+Back-off 3s restarting failed container/]) assert.match(events, re)
    assert.match(await get('describe', 'ds', 'lc-live'), /Events:\n\s+LAST SEEN.*\n(.*\n)*.*Unhealthy/)
    await cli('delete', 'ds', 'lc-live')
  })

  it('init containers run in order to completion before the containers, on the pod\'s volumes; a failing one shows Init:Error and is retried', async () => {
    await apply(
      ds(
        'lc-init',
        `initContainers:
- name: setup
  image: ${TEST_IMAGE}
  command: ["sh", "-c", "echo from-setup > /work/log"]
  volumeMounts: [{name: work, mountPath: /work}]
- name: second
  image: ${TEST_IMAGE}
  command: ["sh", "-c", "echo second >> /work/log"]
  volumeMounts: [{name: work, mountPath: /work}]
containers:
- name: main
  image: ${TEST_IMAGE}
  command: ["sh", "-c", "cat /work/log > /work/seen; exec sleep 3600"]
  volumeMounts: [{name: work, mountPath: /work}]
volumes: [{name: work, emptyDir: {}}]
terminationGracePeriodSeconds: 1`,
      ),
    )
    const main = await waitFor('lc-init running', () => running('lc-init'), 30_000)
    assert.equal(await docker(HOST, 'exec', main, 'cat', '/work/seen'), 'from-setup\nsecond\n')
    assert.deepEqual((await docker(HOST, 'ps', '-a', '-q', '--filter', 'label=daemonmesh.io/init-of=default.lc-init')).trim(), '', 'init containers are removed once done')

    await apply(
      ds(
        'lc-init-bad',
        `initContainers:
- name: setup
  image: ${TEST_IMAGE}
  command: ["sh", "-c", "echo no config here; exit 3"]
containers:
- name: main
  image: ${TEST_IMAGE}
  command: ["sleep", "3600"]
terminationGracePeriodSeconds: 1`,
      ),
    )
    const seen = new Set<string>()
    await waitFor('Init:Error, then Init:CrashLoopBackOff', async () => {
      const r = await pod('lc-init-bad')
      if (r?.[2] !== undefined) seen.add(r[2])
      return seen.has('Init:CrashLoopBackOff') && [...seen].some((x) => x === 'Init:Error' || x === 'Init:0/1')
    }, 30_000, 200)
    assert.match(await get('get', 'pods', '-o', 'wide'), /lc-init-bad-lc-1 .*Init:\S+ .*init container setup exited with 3: no config here/)
    assert.equal(await running('lc-init-bad'), undefined, 'the main container never started')
    await cli('delete', 'ds', 'lc-init')
    await cli('delete', 'ds', 'lc-init-bad')
  })

  it('postStart runs right after the start; preStop runs before the stop signal', async () => {
    await apply(
      ds(
        'lc-hooks',
        `containers:
- name: main
  image: ${TEST_IMAGE}
  command: ["sh", "-c", "trap 'cat /marks/prestop > /marks/order; echo term >> /marks/order; exit 0' TERM; while true; do sleep 1; done"]
  lifecycle:
    postStart: {exec: {command: ["sh", "-c", "echo poststart > /marks/poststart"]}}
    preStop: {exec: {command: ["sh", "-c", "echo prestop > /marks/prestop"]}}
  volumeMounts: [{name: marks, mountPath: /marks}]
volumes: [{name: marks, hostPath: {path: ${marks}, type: Directory}}]
terminationGracePeriodSeconds: 5`,
      ),
    )
    await waitFor('lc-hooks running', () => running('lc-hooks'), 30_000)
    await waitFor('postStart wrote its marker', () => readFile(join(marks, 'poststart'), 'utf8').catch(() => undefined), 10_000)
    await cli('delete', 'ds', 'lc-hooks')
    await waitFor('lc-hooks gone', async () => (await managed(HOST, [NODE])).every((r) => r.daemonSet !== 'default.lc-hooks'), 20_000)
    assert.equal(await readFile(join(marks, 'order'), 'utf8'), 'prestop\nterm\n', 'preStop ran before the stop signal')
  })

  it('an adopted copy belongs to its adopter: deleting the adopter removes it', async () => {
    const busy = (name: string, extra = ''): string => `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}}
spec:
  selector: {matchLabels: {app: lc-busy}}${extra}
  template:
    metadata: {labels: {app: lc-busy}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${TEST_IMAGE}
        command: ["sleep", "3600"]
`
    await apply(busy('lc-busy'))
    const copy = await waitFor('lc-busy running', () => running('lc-busy'), 30_000)
    await cli('delete', 'ds', 'lc-busy', '--cascade=orphan')
    await apply(busy('lc-busy2', '\n  updateStrategy: {type: OnDelete}'))
    await waitFor('get pods lists the copy under its adopter', async () => (await pod('lc-busy2'))?.[2] === 'Running', 20_000, 200)
    assert.equal(await running('lc-busy'), copy, 'adopted as it is')
    await cli('delete', 'ds', 'lc-busy2')
    await waitFor('the adopted copy removed with its adopter', async () => (await managed(HOST, [NODE])).every((r) => r.id !== copy), 20_000, 200)
  })

  it('a NoExecute taint evicts a copy once its toleration\'s tolerationSeconds passed', async () => {
    await apply(
      ds(
        'lc-tol',
        `tolerations: [{key: lc-drain, operator: Exists, effect: NoExecute, tolerationSeconds: 3}]
containers:
- name: main
  image: ${TEST_IMAGE}
  command: ["sleep", "3600"]
terminationGracePeriodSeconds: 1`,
      ),
    )
    const copy = await waitFor('lc-tol running', () => running('lc-tol'), 30_000)
    await cli('taint', 'node', NODE, 'lc-drain=x:NoExecute')
    const tainted = Date.now()
    try {
      await waitFor('the agent sees its taint', async () => /lc-drain=x:NoExecute/.test(await get('describe', 'node', NODE)), 10_000, 100)
      assert.equal(await running('lc-tol'), copy, 'still tolerated right after the taint')
      await waitFor('lc-tol evicted', async () => (await managed(HOST, [NODE])).every((r) => r.id !== copy), 20_000, 200)
      const took = Date.now() - tainted
      process.stderr.write(`lc-tol evicted ${took} ms after the taint (tolerationSeconds 3)\n`)
      assert.ok(took >= 3000, `evicted after ${took} ms, before its tolerationSeconds`)
      await waitFor('an Evicted event', async () => /Warning\s+Evicted\s+pod\/lc-tol-lc-1\s+Evicting .*tolerationSeconds/.test(await get('get', 'events')), 10_000, 300)
    } finally {
      await cli('taint', 'node', NODE, 'lc-drain:NoExecute-')
    }
    await cli('delete', 'ds', 'lc-tol')
  })
})
