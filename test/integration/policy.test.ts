// A workload policy on a real agent with the machine's dockerd: a DaemonSet that breaks the
// host's policy is reported `PolicyDenied: RULE` in get pods and describe, and nothing of it
// is created; one within the policy runs, with a hostPath whose name has a colon mounted as
// a structured mount.

import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { TEST_IMAGE, buildTestImage, docker, managed, removeManaged, requireDocker } from '../helpers/docker.js'
import { sleeperYaml } from '../helpers/manifests.js'

const HOST = 'unix:///var/run/docker.sock'
const NODE = 'sa-pol-1'
const skip = await requireDocker(HOST)

const ds = (name: string, path: string, extra = ''): string =>
  sleeperYaml(name, { podExtra: `${extra}      volumes:\n      - name: data\n        hostPath: {path: "${path}"}\n`, containerExtra: '        volumeMounts: [{name: data, mountPath: /data}]\n' })

describe('workload policy with a real dockerd', { skip }, () => {
  let cluster: TestCluster
  let agent: TestAgent
  let allowed: string

  const apply = async (text: string): Promise<void> => {
    const f = join(cluster.root, `ds-${Math.random()}.yaml`)
    await writeFile(f, text)
    const r = await runCli('apply', '-f', f, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
  }
  const running = async (dsName: string): Promise<string[]> => (await managed(HOST, [NODE])).filter((r) => r.daemonSet === `default.${dsName}`).map((r) => r.id)

  before(async () => {
    await buildTestImage(HOST)
    cluster = await TestCluster.create('sa-pol', 3000)
    await removeManaged(HOST, [NODE])
    allowed = join(cluster.root, 'allowed')
    await mkdir(join(allowed, 'a:b'), { recursive: true })
    await writeFile(join(allowed, 'a:b', 'hello'), 'from the host\n')
    const config = join(cluster.root, 'policy.yaml')
    await writeFile(config, `policy:\n  allowedHostPaths: ["${allowed}"]\n  allowedNamespaces: [default]\n`)
    agent = await cluster.agent({ name: NODE, docker: HOST, config }).start()
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, [NODE])
  })

  it('a DaemonSet that breaks the policy is PolicyDenied in get pods and describe, and nothing is created', async () => {
    await apply(ds('sa-denied', '/etc', '      hostNetwork: true\n'))
    await waitFor('PolicyDenied in get pods', async () => {
      const r = await runCli('get', 'pods', '--agent', agent.target.address)
      return new RegExp(`^sa-denied-${NODE} +0/1 +PolicyDenied +0 `, 'm').test(r.stdout) ? r : undefined
    }, 20_000)
    const wide = await runCli('get', 'pods', '-o', 'json', '--agent', agent.target.address)
    const pod = (JSON.parse(wide.stdout) as { items: { spec: { daemonSet: string }; status: { lastError?: string; phase: string } }[] }).items.find((p) => p.spec.daemonSet === 'sa-denied')
    assert.equal(pod?.status.phase, 'Pending')
    assert.match(pod?.status.lastError ?? '', /^PolicyDenied: allowHostNamespaces: hostNetwork; allowedHostPaths: volume data: \/etc is not under an allowed prefix$/)
    const described = await runCli('describe', 'ds', 'sa-denied', '--agent', agent.target.address)
    assert.equal(described.code, 0, described.stderr)
    assert.match(described.stdout, /PolicyDenied: allowHostNamespaces: hostNetwork/)
    const node = await runCli('describe', 'node', NODE, '--agent', agent.target.address)
    assert.match(node.stdout, /default\/sa-denied +Pending +false +0 +\S+ +PolicyDenied: /)
    await waitFor('a PolicyDenied event', async () => {
      const r = await runCli('get', 'events', '--for', 'ds/sa-denied', '--agent', agent.target.address)
      return /Warning\s+PolicyDenied\s+pod\/sa-denied-\S+\s+refused by this host's workload policy: allowHostNamespaces: hostNetwork/.test(r.stdout) ? r : undefined
    }, 10_000)
    assert.deepEqual(await running('sa-denied'), [], 'no container was created')
  })

  it('a DaemonSet within the policy runs, its colon-named hostPath bound as a structured mount', async () => {
    await apply(ds('sa-allowed', join(allowed, 'a:b')))
    const id = await waitFor('sa-allowed running', async () => (await running('sa-allowed'))[0], 30_000)
    await waitFor('the mount shows the host file', async () => (await docker(HOST, 'exec', id, 'cat', '/data/hello')) === 'from the host\n', 10_000)
    assert.deepEqual(await running('sa-denied'), [], 'still nothing of the refused one')
  })
})
