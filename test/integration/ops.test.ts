// Day-2 operations through one agent, with real agents, libp2p and dockerd (three agents
// sharing this machine's dockerd, each a node): logs of every host's copy, followed; exec
// on another host's copy with its exit code, refused without a valid signed request; the
// Prometheus endpoint's kube-state-metrics series.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateKeyPair } from '../../core/keys.js'
import { signOpsRequest } from '../../core/ops-request.js'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { TEST_IMAGE, buildTestImage, removeManaged, requireDocker } from '../helpers/docker.js'
import { repoPath } from '../helpers/fixtures.js'
import { streamCall } from '../../cli/stream.js'

const HOST = 'unix:///var/run/docker.sock'
const skip = await requireDocker(HOST)
const NAMES = ['op-1', 'op-2', 'op-3']
const DS = 'op-talker'

const manifest = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${DS}}
spec:
  selector: {matchLabels: {app: ${DS}}}
  template:
    metadata: {labels: {app: ${DS}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${TEST_IMAGE}
        env:
        - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        command: ["sh", "-c", "echo hello from $NODE; while true; do sleep 1; done"]
`

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

/** cli runs the CLI as its own process (stdin, and a follow that must be interrupted). */
function cliProcess(args: string[], stdin?: string | 'open'): { stdout: () => string; stderr: () => string; exited: Promise<number | null>; kill: () => void; type: (text: string) => void; end: () => void } {
  const p = spawn(process.execPath, [repoPath('bin/daemonmesh.js'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  p.stdout.on('data', (d: Buffer) => (out += d.toString()))
  p.stderr.on('data', (d: Buffer) => (err += d.toString()))
  if (stdin === undefined) p.stdin.end()
  else if (stdin !== 'open') p.stdin.end(stdin)
  return { stdout: () => out, stderr: () => err, exited: new Promise((r) => p.once('exit', (c) => r(c))), kill: () => p.kill('SIGTERM'), type: (t) => p.stdin.write(t), end: () => p.stdin.end() }
}

describe('logs, exec and metrics across the fleet', { skip }, () => {
  let cluster: TestCluster
  let agents: TestAgent[]
  let metricsPort: number
  const via = (): string => (agents[0] as TestAgent).target.address

  before(async () => {
    await buildTestImage(HOST)
    cluster = await TestCluster.create('op', 3000)
    await removeManaged(HOST, NAMES)
    metricsPort = await freePort()
    const first = await cluster.agent({ name: 'op-1', docker: HOST, extra: ['--metrics-addr', `127.0.0.1:${metricsPort}`] }).start()
    const boot = await first.address()
    agents = [first, ...(await Promise.all(['op-2', 'op-3'].map((n) => cluster.agent({ name: n, docker: HOST, bootstrap: [boot] }).start())))]
    await waitFor('3 alive', async () => (await Promise.all(agents.map(async (a) => (await a.nodes()).filter((n) => n.status.state === 'Alive').length))).every((c) => c === 3), 30_000)
    const f = join(cluster.root, 'ds.yaml')
    await writeFile(f, manifest)
    const r = await runCli('apply', '-f', f, '--agent', via(), '--key', cluster.operatorKeyFile)
    assert.equal(r.code, 0, r.stderr)
    await waitFor('3 ready copies, seen from op-1', async () => {
      const g = await runCli('get', 'ds', DS, '-o', 'json', '--agent', via())
      return g.code === 0 && (JSON.parse(g.stdout) as { status: { numberReady: number } }).status.numberReady === 3
    }, 60_000)
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, NAMES)
  })

  it('logs --all-nodes --prefix shows every host\'s lines through one agent', async () => {
    await waitFor('every host\'s first line', async () => {
      const r = await runCli('logs', `ds/${DS}`, '--all-nodes', '--prefix', '--agent', via(), '--key', cluster.operatorKeyFile)
      assert.equal(r.code, 0, r.stderr)
      return NAMES.every((n) => r.stdout.includes(`[pod/${DS}-${n}/main] hello from ${n}\n`)) ? r : undefined
    }, 20_000)
    // A pod name as get pods prints it, on another host than the agent's.
    const one = await runCli('logs', `${DS}-op-3`, '--tail', '1', '--agent', via(), '--key', cluster.operatorKeyFile)
    assert.equal(one.code, 0, one.stderr)
    assert.equal(one.stdout, 'hello from op-3\n')
  })

  it('logs -f follows new lines of another host until interrupted', async () => {
    const follow = cliProcess(['logs', `ds/${DS}`, '--node', 'op-2', '-f', '--prefix', '--agent', via(), '--key', cluster.operatorKeyFile])
    try {
      await waitFor('the first line', () => follow.stdout().includes('hello from op-2'), 20_000)
      // A line written to the daemon's stdout now (through exec) reaches the follower.
      const w = await runCli('exec', `ds/${DS}`, '--node', 'op-2', '--agent', via(), '--key', cluster.operatorKeyFile, '--', 'sh', '-c', 'echo followed-line > /proc/1/fd/1')
      assert.equal(w.code, 0, w.stderr)
      await waitFor('the new line', () => follow.stdout().includes(`[pod/${DS}-op-2/main] followed-line\n`), 20_000)
    } finally {
      follow.kill()
    }
    await follow.exited
    // The target stops reading the log once the client is gone.
    const log = join((agents[1] as TestAgent).dir, 'agent.log')
    await waitFor('op-2 ends the follow', async () => {
      const lines = (await readFile(log, 'utf8')).split('\n').filter((l) => l.includes('"component":"ops"'))
      const nonce = lines.map((l) => JSON.parse(l) as { msg: string; follow?: boolean; nonce: string }).find((l) => l.msg === 'logs request accepted' && l.follow === true)?.nonce
      return nonce !== undefined && lines.some((l) => l.includes(nonce) && l.includes('"requesterGone":true') && l.includes('operations request ended'))
    }, 20_000)
  })

  it('exec runs on another host and exits with the command\'s exit code', async () => {
    const r = await runCli('exec', `ds/${DS}`, '--node', 'op-3', '--agent', via(), '--key', cluster.operatorKeyFile, '--', 'sh', '-c', 'echo out on $NODE; echo oops >&2; exit 3')
    assert.equal(r.code, 3, r.stderr)
    assert.equal(r.stdout, 'out on op-3\n')
    assert.equal(r.stderr, 'oops\n')
    const ok = await runCli('exec', `${DS}-op-2`, '--agent', via(), '--key', cluster.operatorKeyFile, '--', 'sh', '-c', 'echo $NODE')
    assert.deepEqual([ok.code, ok.stdout], [0, 'op-2\n'])
  })

  it('exec -i sends stdin to the command', async () => {
    const p = cliProcess(['exec', `ds/${DS}`, '--node', 'op-3', '-i', '--agent', via(), '--key', cluster.operatorKeyFile, '--', 'sh', '-c', 'cat; echo " on $NODE"'], 'piped')
    assert.equal(await p.exited, 0, p.stderr())
    assert.equal(p.stdout(), 'piped on op-3\n')
  })

  it('exec -i is a session: what is typed after reading the output reaches the command', async () => {
    const p = cliProcess(['exec', `ds/${DS}`, '--node', 'op-2', '-i', '--agent', via(), '--key', cluster.operatorKeyFile, '--', 'sh', '-c', 'read a; echo got $a on $NODE; read b; echo got $b; exit 4'], 'open')
    try {
      p.type('one\n')
      await waitFor('the first answer', () => p.stdout().includes('got one on op-2\n'), 20_000)
      assert.ok(!p.stdout().includes('got two'))
      p.type('two\n')
      assert.equal(await p.exited, 4, p.stderr())
      assert.equal(p.stdout(), 'got one on op-2\ngot two\n')
    } finally {
      p.kill()
    }
  })

  it('exec is refused with a key the hosts do not trust', async () => {
    const pair = generateKeyPair()
    const file = join(cluster.root, 'stranger.key')
    await writeFile(file, pair.privateKeyPem, { mode: 0o600 })
    const r = await runCli('exec', `ds/${DS}`, '--node', 'op-3', '--agent', via(), '--key', file, '--', 'sh', '-c', 'echo ran')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /not a trusted operator key/)
    assert.equal(r.stdout, '')
  })

  it('the target host refuses a replayed request and the entry an expired one', async () => {
    const frames = async (request: unknown): Promise<Record<string, unknown>[]> => {
      const got: Record<string, unknown>[] = []
      await streamCall((agents[0] as TestAgent).target, '/v1/exec', { request }, (f) => got.push(f))
      return got
    }
    const req = signOpsRequest({ kind: 'exec', ds: `default/${DS}`, node: 'op-3', exec: { command: ['sh', '-c', 'echo once'], stdin: false, tty: false } }, cluster.operatorKey, Date.now())
    const first = await frames(req)
    assert.deepEqual(first.map((f) => f.t), ['out', 'exit', 'end'])
    const again = await frames(req)
    assert.deepEqual(again.map((f) => [f.node, f.t, f.reason]), [['op-3', 'error', 'replayed']])
    const old = signOpsRequest({ kind: 'exec', ds: `default/${DS}`, node: 'op-3', exec: { command: ['sh', '-c', 'echo late'], stdin: false, tty: false } }, cluster.operatorKey, Date.now() - 61_000)
    await assert.rejects(frames(old), (e: Error & { status?: number }) => e.status === 403 && /expired/.test(e.message))
    const forged = { ...signOpsRequest({ kind: 'exec', ds: `default/${DS}`, node: 'op-3', exec: { command: ['true'], stdin: false, tty: false } }, cluster.operatorKey, Date.now()), exec: { command: ['sh', '-c', 'echo forged'], stdin: false, tty: false } }
    await assert.rejects(frames(forged), (e: Error & { status?: number }) => e.status === 403 && /bad signature/.test(e.message))
  })

  it('the metrics address serves kube-state-metrics series with the fleet\'s values', async () => {
    const labels = `{namespace="default",daemonset="${DS}"}`
    const text = await waitFor('metrics with 3 available', async () => {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
      assert.equal(res.status, 200)
      const t = await res.text()
      return t.includes(`kube_daemonset_status_number_available${labels} 3\n`) ? t : undefined
    }, 20_000)
    for (const [name, value] of [
      ['kube_daemonset_status_desired_number_scheduled', 3],
      ['kube_daemonset_status_current_number_scheduled', 3],
      ['kube_daemonset_status_number_ready', 3],
      ['kube_daemonset_status_updated_number_scheduled', 3],
      ['kube_daemonset_status_number_misscheduled', 0],
      ['kube_daemonset_status_number_unavailable', 0],
      ['kube_daemonset_metadata_generation', 1],
      ['kube_daemonset_status_observed_generation', 1],
    ] as const) {
      assert.ok(text.includes(`${name}${labels} ${value}\n`), `${name} ${value} in:\n${text.split('\n').filter((l) => l.startsWith(name)).join('\n')}`)
      assert.ok(text.includes(`# TYPE ${name} gauge\n`), name)
    }
    assert.ok(text.includes('# TYPE kube_pod_container_status_restarts_total counter\n'))
    for (const n of NAMES) assert.ok(text.includes(`kube_pod_container_status_restarts_total{namespace="default",pod="${DS}-${n}",container="main"} 0\n`), n)
    assert.match(text, /^daemonmesh_connected_peers 2$/m)
    assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/v1/health`)).status, 404)
  })
})
