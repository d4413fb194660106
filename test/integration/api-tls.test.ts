// The agent's TCP API over TLS, and key files that are never overwritten, on real agents:
// the CLI pins the agent's self-signed certificate by fingerprint and refuses any other
// certificate before sending a byte; a plaintext API on a non-loopback address is refused
// at start (agent) and before connecting (CLI); a restart keeps the certificate; an agent
// whose data directory holds an operator.key without its .pub keeps the key (and, as the
// single agent of `npm start` does, admits itself with it).

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { call } from '../../cli/client.js'
import { generateKeyPair, parsePublicKey } from '../../core/keys.js'
import { runCli } from '../helpers/cli.js'
import { TestCluster, waitFor, type TestAgent } from '../helpers/cluster.js'
import { repoPath } from '../helpers/fixtures.js'

const PORT = 20_000 + Math.floor(Math.random() * 20_000)
const ADDRESS = `https://127.0.0.1:${PORT}`
const TOKEN = 'sa-tls-token-of-enough-length'

/** runAgentProcess runs `daemonmesh agent ARGS` until it exits or `until` resolves (then SIGTERM); returns its exit code and output. */
async function runAgentProcess(args: string[], until?: (output: () => string) => Promise<unknown>): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [repoPath('bin/daemonmesh.js'), 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()))
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
  if (until !== undefined) {
    try {
      await until(() => output)
    } finally {
      proc.kill('SIGTERM')
    }
  }
  return { code: await exited, output }
}

describe('the API over TLS, and key files', () => {
  let cluster: TestCluster
  let agent: TestAgent
  let tokenFile: string

  before(async () => {
    cluster = await TestCluster.create('sa-tls', 3000)
    agent = await cluster.agent({ name: 'sa-tls-1', tcpApi: { address: ADDRESS, token: TOKEN } }).start()
    tokenFile = join(cluster.root, 'cli.token')
    await writeFile(tokenFile, `${TOKEN}\n`)
  })

  after(async () => {
    await cluster?.stopAll()
  })

  it('the CLI reaches an https API with the fingerprint that `daemonmesh fingerprint` and the agent log print', async () => {
    const fp = await runCli('fingerprint', '--data-dir', agent.dir)
    assert.equal(fp.code, 0, fp.stderr)
    const fingerprint = fp.stdout.trim()
    assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    assert.match(await readFile(join(agent.dir, 'agent.log'), 'utf8'), new RegExp(`"fingerprint":"${fingerprint}".*"msg":"API listening"`))
    const ok = await runCli('get', 'nodes', '-o', 'name', '--agent', ADDRESS, '--token-file', tokenFile, '--fingerprint', `sha256:${fingerprint.replace(/:/g, '').toLowerCase()}`)
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /node\/sa-tls-1/)
  })

  it('another fingerprint is refused before the request (and its token) is sent; none at all is a usage error', async () => {
    const before = (await agent.health()).rejected
    const wrong = await runCli('get', 'nodes', '--agent', ADDRESS, '--token-file', tokenFile, '--fingerprint', 'AB'.repeat(32))
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /its certificate's fingerprint is [0-9A-F:]+, not the pinned AB:AB:.*refusing to talk to it/)
    const none = await runCli('get', 'nodes', '--agent', ADDRESS, '--token-file', tokenFile)
    assert.equal(none.code, 2)
    assert.match(none.stderr, /pin the agent's certificate with --fingerprint/)
    assert.equal((await agent.health()).rejected, before)
  })

  it('plain HTTP to a TLS port does not get an answer', async () => {
    await assert.rejects(call({ address: `http://127.0.0.1:${PORT}`, token: TOKEN }, 'GET', '/v1/health'))
  })

  it('a restart keeps the certificate and its fingerprint', async () => {
    const cert = await readFile(join(agent.dir, 'api.crt'), 'utf8')
    const key = await readFile(join(agent.dir, 'api.key'), 'utf8')
    await agent.stop()
    await agent.start()
    assert.equal(await readFile(join(agent.dir, 'api.crt'), 'utf8'), cert)
    assert.equal(await readFile(join(agent.dir, 'api.key'), 'utf8'), key)
  })

  it('a plaintext API on a non-loopback address is refused at start; the CLI refuses one before connecting', async () => {
    const dir = join(cluster.root, 'sa-tls-plain')
    const r = await runAgentProcess(['--name', 'sa-tls-plain', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--docker', 'none', '--api', 'http://0.0.0.0:17999', '--api-token-file', tokenFile])
    assert.equal(r.code, 2)
    assert.match(r.output, /api: Invalid value: "http:\/\/0\.0\.0\.0:17999": plaintext HTTP only on a loopback address/)
    const cli = await runCli('get', 'nodes', '--agent', 'http://192.0.2.1:7947', '--token-file', tokenFile)
    assert.equal(cli.code, 2)
    assert.match(cli.stderr, /plaintext HTTP only to a loopback address/)
  })

  it('an operator.key without its .pub is kept: the public half is written beside it', async () => {
    const dir = join(cluster.root, 'sa-tls-keys')
    await mkdir(dir, { recursive: true })
    const pair = generateKeyPair()
    await writeFile(join(dir, 'operator.key'), pair.privateKeyPem, { mode: 0o600 })
    // Admission is left at its default (enforced): an agent running with the operator key it holds admits itself.
    const r = await runAgentProcess(['--name', 'sa-tls-keys', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--docker', 'none', '--cluster-key', cluster.clusterKeyFile], async (output) => {
      await waitFor('the agent started', () => output().includes('"msg":"agent started"'), 30_000)
      await waitFor('it lists itself as a member', async () => {
        const items = (await call<{ items: { metadata: { name: string }; status: { state: string } }[] }>({ address: `unix://${join(dir, 'agent.sock')}` }, 'GET', '/v1/nodes')).items
        return items.length === 1 && items[0]?.status.state === 'Alive'
      }, 10_000)
    })
    assert.equal(r.code, 0, r.output)
    assert.equal(await readFile(join(dir, 'operator.key'), 'utf8'), pair.privateKeyPem, 'the private key is untouched')
    const pub = await readFile(join(dir, 'operator.key.pub'), 'utf8')
    assert.equal(parsePublicKey(pub), pair.id)
    assert.doesNotMatch(r.output, /generated one/, 'no new operator key was made')
    assert.match(r.output, /admitted this host with the generated operator key/)
  })
})
