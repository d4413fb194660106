// `daemonmesh join`: provisions this host in one command. It writes the agent's config
// (/etc/daemonmesh/agent.yaml by default) and copies the join token, the cluster key and the
// optional fleet secret key next to it, then enables and starts the systemd unit when
// systemd runs. Every input is read and checked before anything is written: on bad input
// nothing changes. An existing config is replaced only with --force (or when it is still
// the package's example, untouched).

import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { stringify } from 'yaml'
import { resolveConfig, ConfigError, type ConfigInput } from '../../agent/config.js'
import { isClusterKey, parsePublicKey } from '../../core/keys.js'
import { globMatches, joinTokenSchema, type JoinToken } from '../../core/node-admission.js'
import { parseSecretKey } from '../../core/secret-box.js'
import { CliError, UsageError } from '../errors.js'

const run = promisify(execFile)

/** The unit's config file: only this path makes `join` touch systemd. */
export const UNIT_CONFIG = '/etc/daemonmesh/agent.yaml'
const UNIT = 'daemonmesh-agent.service'
/** The package's example config (systemd/agent.yaml, installed as the conffile): replaced without --force. */
const EXAMPLE = new URL('../../../systemd/agent.yaml', import.meta.url)
/** Input files are small: a token, a key, a public key. */
const MAX_INPUT = 16 * 1024

export interface JoinOptions {
  token?: string
  bootstrap?: string[]
  clusterKey?: string
  secretKey?: string
  trust?: string[]
  name?: string
  label?: string[]
  listen?: string[]
  config?: string
  dataDir?: string
  api?: string
  docker?: string
  force?: boolean
  /** commander's --no-start: false when given. */
  start?: boolean
}

/** A file the join writes, with its mode. */
interface Output {
  path: string
  text: string
  mode: number
}

async function readInput(flag: string, path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new UsageError(`${flag} ${path}: ${(err as Error).message}`)
  }
  if (text.length > MAX_INPUT) throw new UsageError(`${flag} ${path}: larger than ${MAX_INPUT} bytes`)
  return text
}

async function readToken(path: string): Promise<JoinToken> {
  const text = await readInput('--token', path)
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    throw new UsageError(`--token ${path}: not a join token (make one with \`daemonmesh token create\`)`)
  }
  const res = joinTokenSchema.safeParse(data)
  if (!res.success) throw new UsageError(`--token ${path}: not a join token: ${res.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`)
  if (res.data.expires <= Date.now()) throw new UsageError(`--token ${path}: expired at ${new Date(res.data.expires).toISOString()} (make a new one with \`daemonmesh token create\`)`)
  return res.data
}

function parseLabels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const l of list) {
    const i = l.indexOf('=')
    if (i <= 0) throw new UsageError(`--label ${l}: use KEY=VALUE`)
    out[l.slice(0, i)] = l.slice(i + 1)
  }
  return out
}

function checkMultiaddrs(flag: string, list: string[]): void {
  for (const a of list) {
    try {
      multiaddr(a)
    } catch (err) {
      throw new UsageError(`${flag} ${a}: not a multiaddr such as /ip4/10.0.0.1/tcp/7946 (${(err as Error).message})`)
    }
  }
}

/** isExample says whether `text` is the package's example config, as installed and never edited. */
async function isExample(text: string): Promise<boolean> {
  const example = await readFile(EXAMPLE, 'utf8').catch(() => undefined)
  return example !== undefined && example === text
}

/** planOutputs checks every input and returns the files to write; writes nothing. */
export async function planJoin(opts: JoinOptions): Promise<{ outputs: Output[]; token: JoinToken; config: string }> {
  if (opts.token === undefined) throw new UsageError('--token FILE is required (daemonmesh token create)')
  if (opts.clusterKey === undefined) throw new UsageError('--cluster-key FILE is required (the fleet\'s cluster key, daemonmesh keygen --cluster)')
  const bootstrap = opts.bootstrap ?? []
  if (bootstrap.length === 0) throw new UsageError('--bootstrap ADDR is required (an agent of the fleet, /ip4/10.0.0.1/tcp/7946)')
  if (bootstrap.length > 64) throw new UsageError('--bootstrap: at most 64 addresses')
  checkMultiaddrs('--bootstrap', bootstrap)
  const listen = opts.listen ?? ['/ip4/0.0.0.0/tcp/7946']
  checkMultiaddrs('--listen', listen)

  const token = await readToken(opts.token)
  const clusterKey = await readInput('--cluster-key', opts.clusterKey)
  if (!isClusterKey(clusterKey)) throw new UsageError(`--cluster-key ${opts.clusterKey}: not a cluster key (daemonmesh keygen --cluster --out FILE)`)
  let secretKey: string | undefined
  if (opts.secretKey !== undefined) {
    secretKey = await readInput('--secret-key', opts.secretKey)
    try {
      parseSecretKey(secretKey)
    } catch (err) {
      throw new UsageError(`--secret-key ${opts.secretKey}: ${(err as Error).message}`)
    }
  }
  // Operator keys this host trusts: the files or ids given, else the key that signed the token.
  const trust: string[] = []
  for (const t of opts.trust ?? [token.author]) {
    try {
      trust.push(parsePublicKey(t === token.author ? t : await readInput('--trust', t)))
    } catch (err) {
      if (err instanceof CliError) throw err
      throw new UsageError(`--trust ${t}: ${(err as Error).message}`)
    }
  }

  const config = resolve(opts.config ?? UNIT_CONFIG)
  const dir = dirname(config)
  const files = { token: join(dir, 'join.token'), clusterKey: join(dir, 'cluster.key'), secretKey: join(dir, 'secret.key') }
  const input: ConfigInput = {
    name: opts.name ?? sanitizeHostname(hostname()),
    ...(opts.label === undefined ? {} : { labels: parseLabels(opts.label) }),
    listen,
    bootstrap,
    dataDir: resolve(opts.dataDir ?? '/var/lib/daemonmesh'),
    clusterKey: files.clusterKey,
    secretKey: secretKey === undefined ? 'none' : files.secretKey,
    trust,
    admission: 'enforced',
    joinToken: files.token,
    api: opts.api ?? 'unix:///run/daemonmesh/agent.sock',
    ...(opts.docker === undefined ? {} : { docker: opts.docker }),
  }
  // The agent's own validation: what is written is what it accepts.
  try {
    resolveConfig(input, {}, 'join')
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.issues.map((i) => `--${flagOf(i.path)}: ${i.message}`).join('; '))
    throw err
  }
  if (token.names !== undefined && !globMatches(token.names, input.name ?? '')) throw new UsageError(`--name ${input.name ?? ''}: the token admits only names ${token.names}`)

  const text = `# Written by \`daemonmesh join\`; flags of \`daemonmesh agent\` override it.\n${stringify(input)}`
  const outputs: Output[] = [
    { path: files.token, text: `${JSON.stringify(token)}\n`, mode: 0o600 },
    { path: files.clusterKey, text: clusterKey, mode: 0o600 },
    ...(secretKey === undefined ? [] : [{ path: files.secretKey, text: secretKey, mode: 0o600 }]),
    { path: config, text, mode: 0o640 },
  ]
  if (opts.force !== true) {
    for (const o of outputs) {
      const old = await readFile(o.path, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined
        throw new CliError(`${o.path}: ${err.message}`)
      })
      if (old === undefined || old === o.text) continue
      if (o.path === config && (await isExample(old))) continue
      throw new CliError(`${o.path} exists; pass --force to replace it`)
    }
  }
  return { outputs, token, config }
}

/** The flag a config field came from, for errors. */
function flagOf(path: string): string {
  const top = path.split(/[.[]/)[0] ?? ''
  return ({ dataDir: 'data-dir', labels: 'label', clusterKey: 'cluster-key', secretKey: 'secret-key', joinToken: 'token' } as Record<string, string>)[top] ?? top
}

function sanitizeHostname(h: string): string {
  const s = h.toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
  return s === '' ? 'node' : s
}

/** writeOutputs writes each file beside its target and renames it in place: no file is ever half-written. */
async function writeOutputs(outputs: Output[]): Promise<void> {
  for (const o of outputs) {
    await mkdir(dirname(o.path), { recursive: true, mode: 0o750 })
    const tmp = `${o.path}.join-${process.pid}`
    try {
      await writeFile(tmp, o.text, { mode: o.mode, flag: 'wx' })
      await rename(tmp, o.path)
    } catch (err) {
      await rm(tmp, { force: true })
      throw new CliError(`${o.path}: ${(err as Error).message}`)
    }
  }
}

/** runJoin checks, writes, then starts the unit (systemd running, the unit's config) or says how to start the agent. */
export async function runJoin(opts: JoinOptions, out: NodeJS.WritableStream): Promise<void> {
  const { outputs, token, config } = await planJoin(opts)
  await writeOutputs(outputs)
  out.write(`wrote ${outputs.map((o) => o.path).join(', ')} (join token ${token.id}, valid until ${new Date(token.expires).toISOString()})\n`)
  const systemd = existsSync('/run/systemd/system')
  if (opts.start === false || !systemd || config !== UNIT_CONFIG) {
    const why = opts.start === false ? '--no-start' : !systemd ? 'systemd is not running here' : `the unit reads ${UNIT_CONFIG}`
    out.write(`not started (${why}): run ${config === UNIT_CONFIG && systemd ? `systemctl enable --now ${UNIT}` : `daemonmesh agent --config ${config}`}\n`)
    return
  }
  try {
    await run('systemctl', ['enable', UNIT])
    // restart: an agent already running reads the new config.
    await run('systemctl', ['restart', UNIT])
  } catch (err) {
    throw new CliError(`systemctl: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()} (the config is written; start it with systemctl enable --now ${UNIT})`)
  }
  out.write(`${UNIT} enabled and started: daemonmesh get nodes shows this host once it joined\n`)
}
