// A private registry with htpasswd auth (Debian's docker-registry, on loopback), an image
// pushed to it, and real agents: the pull succeeds only with the right imagePullSecrets
// (a kubernetes.io/dockerconfigjson Secret made by `create secret docker-registry`); with a
// wrong password the error is reported as kubelet reports it and nothing runs, even when
// imagePullPolicy is Always and the image is already on the host; a rolling update pulls
// once, before its slot, and not again while the host has no copy.

import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { generateSecretKey } from '../../core/secret-box.js'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { IDLE_IMAGE, buildTestImage, docker, managed, removeManaged, requireDocker } from '../helpers/docker.js'
import { prerequisite } from '../helpers/prereq.js'
import { sleeperYaml } from '../helpers/manifests.js'

const run = promisify(execFile)
const HOST = 'unix:///var/run/docker.sock'
const skip = (await requireDocker(HOST)) ?? (await prerequisite('docker-registry and htpasswd (apt-get install docker-registry apache2-utils)', () => Promise.all([run('docker-registry', ['--version']), run('htpasswd', ['-h']).catch((e: { stderr?: string }) => (String(e.stderr).includes('Usage') ? undefined : Promise.reject(e)))])))

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await new Promise((r) => s.once('listening', r))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

describe('imagePullSecrets with a private registry', { skip }, () => {
  let cluster: TestCluster
  let agent: TestAgent
  let registry: ChildProcess | undefined
  let server = ''
  let image = ''
  let secretKeyFile = ''
  const names = ['sc-r1']
  const shm = `/dev/shm/sc-reg-${process.pid}`
  /** Requests for the image's manifest the registry answered with it (200): one a pull that got in. */
  let manifestRequests = 0

  const cli = (...args: string[]) => runCli(...args, '--agent', agent.target.address, '--key', cluster.operatorKeyFile)
  const read = (...args: string[]) => runCli(...args, '--agent', agent.target.address)
  const ds = (name: string, pullSecret: string) =>
    sleeperYaml(name, { podExtra: `      imagePullSecrets: [{name: ${pullSecret}}]\n`, image: `"${image}"`, command: null, containerExtra: '        imagePullPolicy: Always\n' })
  const apply = async (text: string) => {
    const f = join(cluster.root, `m-${Math.random()}.yaml`)
    await writeFile(f, text)
    const r = await cli('apply', '-f', f)
    assert.equal(r.code, 0, r.stderr)
  }
  const runningOf = async (name: string) => (await managed(HOST, names)).filter((r) => r.daemonSet === `default.${name}`)
  /** pullError waits for `get pods` to show kubelet's reason for the pod and returns its full last error. */
  const pullError = (name: string) =>
    waitFor(`${name} reports its pull error`, async () => {
      const table = (await read('get', 'pods')).stdout
      if (!new RegExp(`^${name}-sc-r1\\s+0/1\\s+(ErrImagePull|ImagePullBackOff)\\s`, 'm').test(table)) throw new Error(`get pods: ${table}`)
      const pods = JSON.parse((await read('get', 'pods', '-o', 'json')).stdout) as { items: { metadata: { name: string }; status: { lastError?: string } }[] }
      const last = pods.items.find((p) => p.metadata.name === `${name}-sc-r1`)?.status.lastError ?? ''
      return /^(ErrImagePull|ImagePullBackOff): pulling .* \(with the credentials of imagePullSecrets for 127\.0\.0\.1:\d+\): .*(unauthorized|authentication required)/i.test(last) ? last : Promise.reject(new Error(`lastError: ${last}`))
    }, 60_000)

  before(async () => {
    await buildTestImage(HOST)
    await removeManaged(HOST, names)
    cluster = await TestCluster.create('sc-reg', 3000)
    const dir = join(cluster.root, 'registry')
    await mkdir(join(dir, 'data'), { recursive: true })
    await writeFile(join(dir, 'htpasswd'), (await run('htpasswd', ['-Bbn', 'sc-user', 'sc-right-password'])).stdout)
    const port = await freePort()
    server = `127.0.0.1:${port}`
    await writeFile(join(dir, 'config.yml'), `version: 0.1\nlog: {level: info}\nstorage: {filesystem: {rootdirectory: ${join(dir, 'data')}}}\nhttp: {addr: "${server}"}\nauth: {htpasswd: {realm: sc-registry, path: ${join(dir, 'htpasswd')}}}\n`)
    registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] })
    // Its access log: one `HEAD /v2/…/manifests/TAG` answered 200 per pull of an image already on the host (with the wrong password: 401).
    for (const out of [registry.stdout, registry.stderr]) {
      let rest = ''
      out?.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n')
        rest = lines.pop() ?? ''
        manifestRequests += lines.filter((l) => /"(HEAD|GET) \/v2\/sc-reg\/idle\/manifests\/1 HTTP\/[\d.]+" 200 /.test(l)).length
      })
    }
    await waitFor('the registry answers', async () => (await fetch(`http://${server}/v2/`)).status === 401, 20_000, 200)
    // Push with a throwaway client config (never the machine's ~/.docker), then drop the local tag: the agent must pull.
    image = `${server}/sc-reg/idle:1`
    const config = join(dir, 'docker-config')
    await docker(HOST, 'tag', IDLE_IMAGE, image)
    const login = spawn('docker', ['--config', config, '-H', HOST, 'login', '-u', 'sc-user', '--password-stdin', server], { stdio: ['pipe', 'ignore', 'inherit'] })
    login.stdin.end('sc-right-password\n')
    await new Promise<void>((resolve, reject) => login.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`docker login exited ${c}`)))))
    await run('docker', ['--config', config, '-H', HOST, 'push', image])
    await docker(HOST, 'rmi', image)
    secretKeyFile = join(cluster.root, 'secret.key')
    await writeFile(secretKeyFile, generateSecretKey(), { mode: 0o600 })
    agent = await cluster.agent({ name: 'sc-r1', docker: HOST, extra: ['--secret-key', secretKeyFile, '--secrets-dir', shm] }).start()
    for (const [name, password] of [['sc-right', 'sc-right-password'], ['sc-wrong', 'not-the-password']] as const) {
      const r = await runCli('create', 'secret', 'docker-registry', name, '--docker-server', server, '--docker-username', 'sc-user', '--docker-password', password, '--agent', agent.target.address, '--key', cluster.operatorKeyFile, '--secret-key', secretKeyFile)
      assert.equal(r.stdout, `secret/${name} created\n`, r.stderr)
    }
  })

  after(async () => {
    await cluster?.stopAll()
    await removeManaged(HOST, names)
    registry?.kill()
    await rm(shm, { recursive: true, force: true })
    if (image !== '') await docker(HOST, 'rmi', image).catch(() => undefined)
  })

  it('with a wrong password the pull fails, is reported, and nothing runs', async () => {
    await apply(ds('sc-reg-wrong', 'sc-wrong'))
    assert.ok(await pullError('sc-reg-wrong'))
    assert.deepEqual(await runningOf('sc-reg-wrong'), [])
  })

  it('with the right imagePullSecrets the image is pulled and runs', async () => {
    await apply(ds('sc-reg-right', 'sc-right'))
    await waitFor('sc-reg-right running', async () => (await runningOf('sc-reg-right')).some((r) => r.state === 'running'), 60_000)
  })

  it('a rolling update pulls once, before its slot: not again while the host has no copy (Always)', async () => {
    const [old] = (await runningOf('sc-reg-right')).filter((r) => r.state === 'running')
    assert.ok(old, 'sc-reg-right runs')
    await new Promise((r) => setTimeout(r, 1000))
    const before = manifestRequests
    await apply(ds('sc-reg-right', 'sc-right').replace('        imagePullPolicy: Always\n', '        imagePullPolicy: Always\n        env: [{name: SC_VERSION, value: "2"}]\n'))
    await waitFor('the new revision runs', async () => (await runningOf('sc-reg-right')).some((r) => r.state === 'running' && r.revision !== old.revision), 60_000)
    await new Promise((r) => setTimeout(r, 1000))
    assert.equal(manifestRequests - before, 1, 'one pull for the update (before its slot), none while the old copy was down')
  })

  it('Always with a failing pull does not run the image already on the host', async () => {
    assert.notEqual((await docker(HOST, 'images', '-q', image)).trim(), '', 'the image is on the host now')
    await apply(ds('sc-reg-stale', 'sc-wrong'))
    assert.ok(await pullError('sc-reg-stale'))
    assert.deepEqual(await runningOf('sc-reg-stale'), [])
  })
})
