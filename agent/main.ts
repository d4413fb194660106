// `daemonmesh agent`: parses the agent's flags, merges them with the config file, starts
// the agent, and stops it cleanly on SIGTERM/SIGINT (leave, flush, close).

import { execFile } from 'node:child_process'
import * as nodeModule from 'node:module'
import { Command, CommanderError, Option } from 'commander'
import { Agent, type AgentSeams } from './agent.js'
import { ConfigError, readConfigFile, resolveConfig, type AgentConfig, type ConfigInput } from './config.js'
import { createLogger } from './log.js'

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

function labelMap(list: string[] | undefined): Record<string, string> | undefined {
  if (list === undefined) return undefined
  const out: Record<string, string> = {}
  for (const kv of list) {
    const eq = kv.indexOf('=')
    if (eq <= 0) throw new ConfigError(`--label ${kv}`, [{ path: '', message: 'expected KEY=VALUE' }])
    out[kv.slice(0, eq)] = kv.slice(eq + 1)
  }
  return out
}

function intFlag(name: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n)) throw new ConfigError(`--${name} ${v}`, [{ path: '', message: 'expected an integer' }])
    return n
  }
}

/** agentCommand declares the agent's flags; every one can also be set in the config file. */
export function agentCommand(): Command {
  return new Command('agent')
    .description('run the daemonmesh agent on this host')
    .option('--config <file>', 'YAML config file (flags override it)')
    .option('--name <name>', 'node name (default: the host name)')
    .addOption(new Option('--label <key=value>', 'node label (repeatable)').argParser(collect))
    .addOption(new Option('--taint <key=value:Effect>', 'node taint (repeatable)').argParser(collect))
    .addOption(new Option('--listen <multiaddr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/7946)').argParser(collect))
    .addOption(new Option('--bootstrap <multiaddr>', 'peer to join through, /p2p/ID optional (repeatable)').argParser(collect))
    .option('--mdns', 'find peers on the local network segment')
    .option('--data-dir <dir>', 'state directory (default .daemonmesh)')
    .option('--cluster-key <file>', 'cluster pre-shared key (default DATADIR/cluster.key, created if missing)')
    .option('--secret-key <file>', 'fleet secret key that opens Secrets (default DATADIR/secret.key, created if missing; none: this host runs no pod that needs a Secret)')
    .option('--secrets-dir <dir>', 'tmpfs directory for the Secret files of running pods (default /dev/shm/daemonmesh)')
    .addOption(new Option('--trust <file>', 'trusted operator public key file or key id (repeatable)').argParser(collect))
    .addOption(new Option('--retired-key <file>', 'retired operator public key file or key id: what it signed is kept until re-signed, it signs nothing new (repeatable)').argParser(collect))
    .option('--api <address>', 'API address: unix:///PATH (default unix://DATADIR/agent.sock), https://HOST:PORT (self-signed certificate in DATADIR/api.crt; its fingerprint is logged) or http://127.0.0.1:PORT (loopback only)')
    .option('--api-token-file <file>', 'bearer token file, required with a TCP API')
    .option('--metrics-addr <host:port>', 'serve Prometheus /metrics over plain HTTP here: agent metrics and kube-state-metrics series of the DaemonSets (default off)')
    .option('--heartbeat <duration>', 'failure detector protocol period: one probe per period (default 1s)')
    .option('--suspicion <duration>', 'suspicion timeout floor: a suspected node that does not refute is Unreachable after this, times log10 of the fleet size beyond 10 hosts (default 1s, at least one heartbeat)')
    .option('--forget <duration>', 'a node Unreachable or Left and silent this long is forgotten (default 1h)')
    .option('--anti-entropy <duration>', 'backstop interval of the store and node record comparison with a random peer; probes start one sooner when states differ (default 30s)')
    .option('--lease-ttl <duration>', 'lifetime of a rolling-update slot grant (default 15s)')
    .addOption(new Option('--faulty-voters <n>', 'voters that may lie without a rollout passing maxUnavailable: claims need ceil((n+f+1)/2) of n voters (default 1, 0 to 16)').argParser(intFlag('faulty-voters')))
    .addOption(new Option('--lease-committee <k>', "voters that decide each DaemonSet's update slots in a larger fleet: a rolled host costs 5 (k-1) lease messages whatever the fleet's size (default 9, faulty-voters + 1 to 255; the same on every agent)").argParser(intFlag('lease-committee')))
    .addOption(new Option('--max-connections <n>', 'connection cap (default 64)').argParser(intFlag('max-connections')))
    .addOption(new Option('--target-peers <n>', 'connections to keep: dial members while fewer (default 4)').argParser(intFlag('target-peers')))
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
    .option('--docker <address>', 'Docker engine: unix:///PATH (default unix:///var/run/docker.sock) or none')
    .addOption(new Option('--docker-concurrency <n>', 'Docker calls that make the engine work at once, over all daemons (default 4, 1 to 64)').argParser(intFlag('docker-concurrency')))
    .addOption(new Option('--admission <mode>', 'enforced (default): a host is a member once approved (daemonmesh approve node) or joined with a token; open: every host with the cluster key (labs)').choices(['enforced', 'open']))
    .option('--cluster-id <id>', 'bind operator writes to this cluster id: envelopes signed for another cluster are refused (docs/security.md; default none)')
    .option('--require-cluster-id', 'refuse operator writes not bound to --cluster-id (after every entry was re-signed)')
    .option('--join-token <file>', 'join with this token (daemonmesh token create)')
    .option('--node-ip <ip>', "the host's address as pods see it (status.hostIP); default: chosen from the listen addresses and the default route")
    .addHelpText('after', '\nExamples:\n  daemonmesh agent\n  daemonmesh agent --config /etc/daemonmesh/agent.yaml\n  daemonmesh agent --name edge-1 --label zone=a --bootstrap /ip4/10.0.0.1/tcp/7946 --cluster-key cluster.key --trust operator.key.pub\n')
}

function flagsToInput(o: Record<string, unknown>): ConfigInput {
  const labels = labelMap(o.label as string[] | undefined)
  const input: ConfigInput = {
    name: o.name as string | undefined,
    labels,
    taints: o.taint as string[] | undefined,
    listen: o.listen as string[] | undefined,
    bootstrap: o.bootstrap as string[] | undefined,
    mdns: o.mdns as boolean | undefined,
    dataDir: o.dataDir as string | undefined,
    clusterKey: o.clusterKey as string | undefined,
    secretKey: o.secretKey as string | undefined,
    secretsDir: o.secretsDir as string | undefined,
    trust: o.trust as string[] | undefined,
    retiredKeys: o.retiredKey as string[] | undefined,
    clusterId: o.clusterId as string | undefined,
    requireClusterId: o.requireClusterId as boolean | undefined,
    api: o.api as string | undefined,
    apiTokenFile: o.apiTokenFile as string | undefined,
    metricsAddr: o.metricsAddr as string | undefined,
    heartbeat: o.heartbeat as string | undefined,
    suspicion: o.suspicion as string | undefined,
    forget: o.forget as string | undefined,
    antiEntropy: o.antiEntropy as string | undefined,
    leaseTtl: o.leaseTtl as string | undefined,
    faultyVoters: o.faultyVoters as number | undefined,
    leaseCommittee: o.leaseCommittee as number | undefined,
    maxConnections: o.maxConnections as number | undefined,
    targetPeers: o.targetPeers as number | undefined,
    logLevel: o.logLevel as string | undefined,
    nodeIP: o.nodeIp as string | undefined,
    docker: o.docker as string | undefined,
    dockerConcurrency: o.dockerConcurrency as number | undefined,
    admission: o.admission as 'enforced' | 'open' | undefined,
    joinToken: o.joinToken as string | undefined,
  }
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as ConfigInput
}

/** notifySystemd reports readiness when run as a Type=notify service (NotifyAccess=all). */
function notifySystemd(agent: Agent): void {
  if (process.env.NOTIFY_SOCKET === undefined) return
  execFile('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=peer ${agent.network.peerId}`], (err) => {
    if (err !== null) agent.log.warn({ err: err.message }, 'systemd-notify failed')
  })
}

/**
 * runAgent runs the agent until SIGTERM/SIGINT; returns the process exit code. `seams`
 * replaces parts of the agent (its clock, a wrapper around its container runtime) and
 * hears when it started: production passes none.
 */
export async function runAgent(argv: string[], err: NodeJS.WritableStream = process.stderr, out: NodeJS.WritableStream = process.stdout, seams: AgentSeams = {}): Promise<number> {
  const cmd = agentCommand()
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) })
  let opts: Record<string, unknown>
  try {
    cmd.parse(argv, { from: 'user' })
    opts = cmd.opts()
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2
    err.write(`error: ${(e as Error).message}\n`)
    return 2
  }
  let agent: Agent
  const configPath = typeof opts.config === 'string' ? opts.config : undefined
  const load = async (): Promise<AgentConfig> => resolveConfig(configPath === undefined ? {} : await readConfigFile(configPath), flagsToInput(opts), configPath ?? 'flags')
  try {
    const config = await load()
    const log = createLogger(config.logLevel, config.name)
    agent = await Agent.start(config, log, seams)
    notifySystemd(agent)
    // With NODE_COMPILE_CACHE set (the systemd unit sets it), Node keeps the code it compiled
    // and writes it at a clean exit; written now, a host that loses power or an agent killed
    // still starts faster next time (the bundle is not compiled again). Does nothing otherwise,
    // and is absent before Node 22.10 (package.json allows any Node 22).
    const { flushCompileCache } = nodeModule as { flushCompileCache?: () => void }
    flushCompileCache?.()
  } catch (e) {
    err.write(`error: ${(e as Error).message}\n`)
    return e instanceof ConfigError ? 2 : 1
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      agent.log.info({ signal }, 'signal received')
      process.off('SIGTERM', onTerm)
      process.off('SIGINT', onInt)
      resolve()
    }
    const onTerm = (): void => stop('SIGTERM')
    const onInt = (): void => stop('SIGINT')
    process.on('SIGTERM', onTerm)
    process.on('SIGINT', onInt)
    process.on('SIGHUP', () => {
      // Reload labels and taints from the config file (flags still win); other fields need a restart.
      load()
        .then((c) => {
          agent.applyOwn(c.labels, c.taints)
          agent.log.info({ labels: c.labels, taints: c.taints.length }, 'configuration reloaded')
        })
        .catch((e: unknown) => agent.log.error({ err: (e as Error).message }, 'configuration reload failed; keeping the running one'))
    })
  })
  await agent.stop()
  return 0
}
