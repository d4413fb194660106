// The `daemonmesh` command: parses flags (commander) and runs one verb. Every failure is
// one line on stderr; exit codes are stable: 0 ok, 1 error, 2 usage.

import { Command, CommanderError, Option } from 'commander'
import type { DockerRegistryOptions, GenericOptions } from './commands/create-secret.js'
import type { ExecOptions, LogsOptions } from './commands/logs.js'
import { resolveAgent } from './client.js'
import { verbs } from './verbs.js'
import type { JoinOptions } from './commands/join.js'
import { CliError, ExitCode, UsageError } from './errors.js'
import { NODE_RESOURCES } from './resources.js'
import { VERSION } from '../core/version.js'

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** buildProgram declares every verb; output goes to the given streams. */
export function buildProgram(out: NodeJS.WritableStream, err: NodeJS.WritableStream): Command {
  const program = new Command('daemonmesh')
    .description('Kubernetes DaemonSets for fleets with no control plane')
    .version(VERSION, '--version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) })
    .exitOverride()

  program
    .command('check')
    .description('validate DaemonSet (and Node) manifests; print every error with its field path')
    .addOption(new Option('-f, --filename <path>', 'a manifest file, a directory of them, or - for stdin (repeatable)').argParser(collect))
    .option('-R, --recursive', 'read the subdirectories of -f directories too (as kubectl)')
    .addHelpText('after', '\nExamples:\n  daemonmesh check -f fluentd.yaml\n  daemonmesh check -f manifests/ -f extra.yaml\n  cat ds.yaml | daemonmesh check -f -\n')
    .action(async (opts: { filename?: string[]; recursive?: boolean }) => (await verbs.check()).runCheck({ filename: opts.filename ?? [], recursive: opts.recursive === true }, out, err))


  const agentFlags = (cmd: Command): Command =>
    cmd
      .option('--agent <address>', 'agent API: unix:///PATH, https://HOST:PORT or http://127.0.0.1:PORT (default $DAEMONMESH_AGENT, ./.daemonmesh/agent.sock, /run/daemonmesh/agent.sock)')
      .option('--token <token>', 'bearer token for a TCP agent API (default $DAEMONMESH_TOKEN)')
      .option('--token-file <file>', 'read the bearer token from a file (default $DAEMONMESH_TOKEN_FILE)')
      .option('--fingerprint <sha256>', "the https:// agent's certificate fingerprint to pin, AB:CD:… (default $DAEMONMESH_FINGERPRINT; `daemonmesh fingerprint` prints it on the agent's host)")
  type AgentOpts = { agent?: string; token?: string; tokenFile?: string; fingerprint?: string; key?: string }

  agentFlags(
    program
      .command('plan')
      .description('show, before anything is written, where each DaemonSet would run and why not: against the live fleet (gain, keep, lose, update), or against --nodes')
      .addOption(new Option('-f, --filename <path>', 'DaemonSet manifests: file, directory or - (repeatable)').argParser(collect))
      .option('-R, --recursive', 'read the subdirectories of -f directories too (as kubectl)')
      .addOption(new Option('--nodes <path>', 'plan against these Node objects (as `kubectl get nodes -o yaml` prints them) instead of the live fleet (repeatable)').argParser(collect))
      .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table')),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh plan -f ds.yaml                      # against the live fleet, through the agent\n  daemonmesh plan -f ds.yaml --nodes nodes.yaml   # kubectl get nodes -o yaml > nodes.yaml\n')
    .action(async (opts: AgentOpts & { filename?: string[]; recursive?: boolean; nodes?: string[]; output?: string }) =>
      (await verbs.plan()).runPlan({ filename: opts.filename ?? [], recursive: opts.recursive === true, ...(opts.nodes === undefined ? {} : { nodes: opts.nodes }), ...(opts.output === undefined ? {} : { output: opts.output }) }, out, err, opts.nodes === undefined ? resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint) : undefined),
    )

  agentFlags(
    program
      .command('describe')
      .description('show a DaemonSet (status, where it runs and why not), a node (labels, taints, conditions, its daemons and why others are absent), a ConfigMap (its data, the DaemonSets that use it) or a Secret (its keys and sizes, never values)')
      .argument('<resource>', 'ds, node, cm or secret (or ds/NAME)')
      .argument('[name]')
      .option('-n, --namespace <ns>', 'namespace (default "default")'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh describe ds fluentd\n  daemonmesh describe node edge-1\n  daemonmesh describe cm fluent-bit -n logging\n')
    .action(async (resource: string, name: string | undefined, opts: AgentOpts & { namespace?: string }) => (await verbs.describe()).runDescribe(resource, name, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))

  for (const [verb, what, example, run] of [
    ['label', 'set (KEY=VALUE) or remove (KEY-) node labels: a signed overlay the node applies over its configuration', 'daemonmesh label node edge-1 disktype=ssd\n  daemonmesh label node edge-1 disktype-', 'runLabel'],
    ['taint', 'add (KEY[=VALUE]:EFFECT) or remove (KEY:EFFECT-) node taints: a signed overlay', 'daemonmesh taint node edge-1 dedicated=gpu:NoSchedule\n  daemonmesh taint node edge-1 dedicated:NoSchedule-', 'runTaint'],
  ] as const) {
    agentFlags(
      program
        .command(verb)
        .description(what)
        .argument('<resource>', 'node')
        .argument('<name>', 'node name')
        .argument('<changes...>')
        .option('--overwrite', 'replace an existing value')
        .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
    )
      .addHelpText('after', `\nExamples:\n  ${example}\n`)
      .action(async (resource: string, name: string, changes: string[], opts: AgentOpts & { overwrite?: boolean }) => (await verbs.label())[run](resource, name, changes, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))
  }

  const create = program.command('create').description('create an object from flags (a signed write)')
  agentFlags(
    create
      .command('configmap')
      .alias('cm')
      .description('create a ConfigMap from literals and files, as kubectl create configmap')
      .argument('<name>')
      .addOption(new Option('--from-literal <key=value>', 'a key and its value (repeatable)').argParser(collect))
      .addOption(new Option('--from-file <[key=]path>', 'a file (its name is the key unless KEY= is given) or a directory (one key per file) (repeatable)').argParser(collect))
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh create configmap fluent-bit --from-file fluent-bit.conf --from-literal LOG_LEVEL=info -n logging\n  daemonmesh create configmap conf --from-file config/\n')
    .action(async (name: string, opts: AgentOpts & { namespace?: string; fromLiteral?: string[]; fromFile?: string[] }) => (await verbs.create()).runCreateConfigMap(name, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))

  const secretFlags = (cmd: Command): Command =>
    agentFlags(
      cmd
        .argument('<name>')
        .option('-n, --namespace <ns>', 'namespace (default "default")')
        .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)')
        .option('--secret-key <file>', 'fleet secret key that seals the data (default $DAEMONMESH_SECRET_KEY, ./.daemonmesh/secret.key)'),
    )
  const createSecret = create.command('secret').description('create a Secret, sealed with the fleet secret key, as kubectl create secret')
  secretFlags(
    createSecret
      .command('generic')
      .description('a Secret from literals and files (type Opaque unless --type)')
      .addOption(new Option('--from-literal <key=value>', 'a key and its value (repeatable)').argParser(collect))
      .addOption(new Option('--from-file <[key=]path>', 'a file (its name is the key unless KEY= is given) or a directory (one key per file) (repeatable)').argParser(collect))
      .option('--type <type>', 'the Secret type (default Opaque)'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh create secret generic fluent-bit-auth --from-literal HTTP_PASSWD=s3cret -n logging\n  daemonmesh create secret generic tls --from-file tls.crt --from-file tls.key --type kubernetes.io/tls\n')
    .action(async (name: string, opts: AgentOpts & GenericOptions) => (await verbs.createSecret()).writeNewSecret(await (await verbs.createSecret()).buildGeneric(name, opts), opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))
  secretFlags(
    createSecret
      .command('docker-registry')
      .description('a kubernetes.io/dockerconfigjson Secret for imagePullSecrets')
      .option('--docker-server <server>', 'registry (default https://index.docker.io/v1/)')
      .option('--docker-username <user>', 'user name (required)')
      .option('--docker-password <password>', 'password (required)')
      .option('--docker-email <email>', 'email'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh create secret docker-registry regcred --docker-server registry.example.com:5000 --docker-username ci --docker-password "$PASS"\n')
    .action(async (name: string, opts: AgentOpts & DockerRegistryOptions) => (await verbs.createSecret()).writeNewSecret((await verbs.createSecret()).buildDockerRegistry(name, opts), opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))

  const set = program.command('set').description('change a field of a DaemonSet (a signed write)')
  agentFlags(
    set
      .command('image')
      .description('set the image of containers of a DaemonSet')
      .argument('<daemonset>', 'ds/NAME')
      .argument('<images...>', 'CONTAINER=IMAGE (or *=IMAGE)')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh set image ds/filebeat-ds filebeat=ikubernetes/filebeat:5.6.6-alpine\n')
    .action(async (ref: string, images: string[], opts: AgentOpts & { namespace?: string }) => (await verbs.setImage()).runSetImage(ref, images, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))

  const rollout = program.command('rollout').description('follow, list, undo, restart or release the rolling update of a DaemonSet')
  const keyFlag = '--key <file>'
  const keyHelp = 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'
  type RolloutFlags = AgentOpts & { namespace?: string; timeout?: string; watch?: boolean; revision?: string; toRevision?: string; node?: string }
  const rolloutVerbs = [
    ['status', 'follow the rollout until every host runs an available copy of the current template; say why hosts wait', 'daemonmesh rollout status ds/fluentd --timeout 5m', 'rolloutStatus', (c: Command) => c.option('--timeout <duration>', 'give up (exit 1) after this long; 0 waits forever', '0').option('-w, --watch [bool]', 'follow until done (--watch=false: print once)', (v: string) => v !== 'false', true)],
    ['history', 'list the revisions of a DaemonSet, or show one with --revision', 'daemonmesh rollout history ds/fluentd\n  daemonmesh rollout history ds/fluentd --revision 2', 'rolloutHistory', (c: Command) => c.option('--revision <n>', 'show this revision\'s pod template')],
    ['undo', 'roll back to the previous revision (or --to-revision): a signed write', 'daemonmesh rollout undo ds/fluentd\n  daemonmesh rollout undo ds/fluentd --to-revision 1', 'rolloutUndo', (c: Command) => c.option('--to-revision <n>', 'the revision to go back to (default: the previous one)').option(keyFlag, keyHelp)],
    ['restart', 'restart every copy, host by host, under the update strategy: a signed write of a new revision', 'daemonmesh rollout restart ds/fluentd', 'rolloutRestart', (c: Command) => c.option(keyFlag, keyHelp)],
    ['release', 'free the update slot a host holds (a host gone for good, or one that never gets ready): a signed write', 'daemonmesh rollout release ds/fluentd --node edge-7', 'rolloutRelease', (c: Command) => c.requiredOption('--node <host>', 'the host whose slot to free').option(keyFlag, keyHelp)],
  ] as const
  for (const [verb, what, example, run, extra] of rolloutVerbs) {
    agentFlags(extra(rollout.command(verb).description(what).argument('<daemonset>', 'ds/NAME').option('-n, --namespace <ns>', 'namespace (default "default")')))
      .addHelpText('after', `\nExamples:\n  ${example}\n`)
      .action(async (ref: string, opts: RolloutFlags) => (await verbs.rollout())[run](ref, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))
  }

  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', '\nExamples:\n  source <(daemonmesh completion bash)\n')
    .action(async (shell: string) => {
      out.write((await verbs.completion()).completionScript(shell))
    })

  agentFlags(
    program
      .command('apply')
      .description('create or update the DaemonSets, ConfigMaps and Secrets of manifests (files, directories, mixed bundles), signed with the operator key (Secrets sealed with the secret key); other kinds are skipped')
      .addOption(new Option('-f, --filename <path>', 'manifest file, directory or - (repeatable)').argParser(collect))
      .option('-R, --recursive', 'read the subdirectories of -f directories too (as kubectl)')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)')
      .option('--secret-key <file>', 'fleet secret key that seals Secrets (default $DAEMONMESH_SECRET_KEY, ./.daemonmesh/secret.key); needed only when the manifests hold Secrets'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh apply -f fluentd.yaml --key operator.key\n  daemonmesh apply -f manifests/ --agent unix:///run/daemonmesh/agent.sock\n  helm template fluent-bit fluent/fluent-bit | daemonmesh apply -f -   # other kinds are skipped, said so\n  daemonmesh apply -R -f deploy/\n')
    .action(async (opts: AgentOpts & { filename?: string[]; recursive?: boolean; secretKey?: string }) => (await verbs.apply()).runApply({ filename: opts.filename ?? [], recursive: opts.recursive === true, ...(opts.key === undefined ? {} : { key: opts.key }), ...(opts.secretKey === undefined ? {} : { secretKey: opts.secretKey }) }, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out, err))

  agentFlags(
    program
      .command('get')
      .description('list DaemonSets (ds), their pods (one per node), nodes, ConfigMaps (cm), Secrets (never their values), events, or where a DaemonSet can be reached (endpoints ds/NAME)')
      .argument('<resource>', 'ds, pods, nodes, cm, secrets, events or endpoints')
      .argument('[name]', 'only this one')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('-A, --all-namespaces', 'every namespace')
      .option('-l, --selector <selector>', 'label selector, e.g. app=fluentd,tier in (a,b)')
      .option('-o, --output <format>', 'wide, json, yaml, name or go-template=TEMPLATE')
      .option('-w, --watch', 'events: print new ones as they come')
      .option('--for <ds/NAME>', 'events: only those of this DaemonSet'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh get events --for ds/fluentd -w\n  daemonmesh get ds -A\n  daemonmesh get pods -n kube-system -o wide\n  daemonmesh get ds/filebeat-ds -o go-template=\'{{.spec.updateStrategy.type}}{{"\\n"}}\'\n  daemonmesh get nodes -l zone=a\n  daemonmesh get endpoints ds/node-exporter -n monitoring -o json\n  daemonmesh get ds fluentd -n kube-system -o yaml\n  daemonmesh get nodes -o json\n  daemonmesh get cm -n logging\n')
    .action(async (resource: string, name: string | undefined, opts: AgentOpts & { namespace?: string; allNamespaces?: boolean; output?: string; selector?: string; watch?: boolean; for?: string }) =>
      ['endpoints', 'ep'].includes(resource)
        ? (await verbs.endpoints()).runEndpoints(name, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out)
        : (await verbs.get()).runGet(resource, name, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out),
    )

  agentFlags(
    program
      .command('delete')
      .description('delete DaemonSets, ConfigMaps or Secrets (a signed tombstone), by name or by manifest; one node\'s copy (delete pod), which OnDelete then replaces; or a node (delete node: out of membership, its key refused until approved again)')
      .argument('[resource]', 'ds, cm, secret, pod or node')
      .argument('[names...]', 'DaemonSet, ConfigMap or Secret names; pod names as get pods prints them, or ds/NAME with --node')
      .option('--node <host>', 'with delete pod ds/NAME: the host whose copy to delete')
      .addOption(new Option('-f, --filename <path>', 'delete the DaemonSets, ConfigMaps and Secrets of these manifests (repeatable)').argParser(collect))
      .option('-R, --recursive', 'read the subdirectories of -f directories too (as kubectl)')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--cascade <mode>', 'background (default): remove the pods too; orphan (or false): leave them running', 'background')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh delete ds fluentd -n kube-system\n  daemonmesh delete -f fluentd.yaml\n  daemonmesh delete pod ds/fluentd --node edge-1    # OnDelete: edge-1 moves to the new template\n  daemonmesh delete ds fluentd --cascade=orphan   # pods stay; a new DaemonSet with a matching selector adopts them\n  daemonmesh delete node edge-7                  # out of membership and every voter set; its key refused until approved again\n')
    .action(async (resource: string | undefined, names: string[], opts: AgentOpts & { namespace?: string; cascade?: string; filename?: string[]; recursive?: boolean; node?: string }) =>
      resource !== undefined && NODE_RESOURCES.has(resource)
        ? (await verbs.nodesAdmission()).runDeleteNode(names, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out)
        : (await verbs.delete()).runDelete(resource, names, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out),
    )

  agentFlags(
    program
      .command('logs')
      .description("print a daemon's logs from any host, through this agent: one copy (--node, or a pod name as get pods prints it) or every copy (--all-nodes); a request signed with the operator key")
      .argument('<target>', 'ds/NAME or a pod name (NAME-NODE)')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--node <host>', 'the host whose copy to read (default: the only one, else the first by name)')
      .option('--all-nodes', 'every host that runs a copy')
      .option('--prefix', 'start each line with its pod and container ([pod/NAME-NODE/CONTAINER])')
      .option('-c, --container <name>', "the pod template's container (default: its first)")
      .option('-f, --follow', 'keep printing new lines until interrupted')
      .option('--tail <lines>', 'only the last lines (default -1: all)')
      .option('--since <duration>', 'only lines newer than this, such as 10m or 1h')
      .option('-p, --previous', "the container's previous run (before its last restart)")
      .option('--timestamps', 'start each line with its RFC 3339 time')
      .option('--max-log-requests <n>', 'with -f and --all-nodes: follow at most this many hosts (default 5, as kubectl)')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh logs ds/fluentd --node edge-1 --tail 100\n  daemonmesh logs ds/fluentd --all-nodes --prefix -f\n  daemonmesh logs fluentd-edge-1 --since 10m\n')
    .action(async (arg: string, opts: AgentOpts & LogsOptions) => (await verbs.logs()).runLogs(arg, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out, err))

  agentFlags(
    program
      .command('exec')
      .description("run a command in one host's copy, through this agent, and exit with its exit code; a request signed with the operator key, valid once and for 60 s, that the host checks itself")
      .argument('<target>', 'ds/NAME (with --node) or a pod name (NAME-NODE)')
      .argument('<command...>', 'the command and its arguments, after --')
      .option('-n, --namespace <ns>', 'namespace (default "default")')
      .option('--node <host>', 'the host whose copy runs the command')
      .option('-c, --container <name>', "the pod template's container (default: its first)")
      .option('-i, --stdin', "pass this process's stdin to the command as it comes (an interactive session; at most 1 MiB in all)")
      .option('-t, --tty', 'with -i on a terminal: run the command under a TTY (the terminal in raw mode)')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
  )
    .addHelpText('after', "\nExamples:\n  daemonmesh exec ds/fluentd --node edge-1 -- cat /etc/fluent/fluent.conf\n  daemonmesh exec fluentd-edge-1 -c main -- sh -c 'ls /var/log | wc -l'\n  echo hello | daemonmesh exec ds/fluentd --node edge-1 -i -- cat\n  daemonmesh exec ds/fluentd --node edge-1 -it -- sh\n")
    .action(async (arg: string, command: string[], opts: AgentOpts & ExecOptions) => (await verbs.logs()).runExec(arg, command, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out, err))

  agentFlags(
    program
      .command('resign')
      .description('re-sign with the current operator key everything an old (retired) key signed, so it can be revoked')
      .requiredOption('--from <key>', 'the old key: its public key file or key id')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh resign --from old-operator.key.pub --key new-operator.key\n')
    .action(async (opts: AgentOpts & { from: string; key?: string }) => (await verbs.resign()).runResign(opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out))

  agentFlags(
    program
      .command('approve')
      .description('admit a host: sign an entry binding its name to the node key that asks for it (see get nodes: Pending)')
      .argument('<resource>', 'node')
      .argument('<name>', 'the node name')
      .option('--key-id <id>', 'the node key to admit, when several keys ask for the name')
      .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)'),
  )
    .addHelpText('after', '\nExamples:\n  daemonmesh get nodes                 # a new host is Pending, with its key id\n  daemonmesh approve node edge-7\n  daemonmesh approve node edge-7 --key-id Q2h...\n')
    .action(async (resource: string, name: string, opts: AgentOpts & { keyId?: string }) => {
      if (!NODE_RESOURCES.has(resource)) throw new UsageError(`approve ${resource}: only nodes are approved (approve node NAME)`)
      return (await verbs.nodesAdmission()).runApproveNode(name, opts, resolveAgent(opts.agent, opts.token, opts.tokenFile, opts.fingerprint), out)
    })

  program
    .command('token')
    .description('join tokens: let hosts join without approving each one')
    .command('create')
    .description('write a join token signed by the operator key (offline: no agent is asked); hosts join with agent --join-token FILE')
    .requiredOption('--out <file>', 'where to write the token (mode 0600)')
    .option('--ttl <duration>', 'hosts must join within this long', '24h')
    .option('--names <glob>', "node names it admits, * for any run of characters (e.g. 'edge-*'); default any")
    .option('--uses <n>', 'at most this many hosts (node keys) join with it; default any')
    .option('--key <file>', 'operator private key (default $DAEMONMESH_KEY, ./.daemonmesh/operator.key)')
    .option('--force', 'overwrite an existing file')
    .addHelpText('after', "\nExamples:\n  daemonmesh token create --ttl 24h --names 'edge-*' --uses 50 --out edge.token\n  daemonmesh agent --join-token edge.token ...\n")
    .action(async (opts: { out: string; ttl?: string; names?: string; uses?: string; key?: string; force?: boolean }) => (await verbs.nodesAdmission()).runTokenCreate(opts, out))

  program
    .command('join')
    .description('provision this host: write the agent config (join token, cluster key, bootstrap peers) and start the agent\'s unit when systemd runs; checks every input before writing anything')
    .requiredOption('--token <file>', 'a join token (daemonmesh token create); copied to join.token beside the config')
    .requiredOption('--bootstrap <addr>', 'an agent of the fleet, /ip4/10.0.0.1/tcp/7946 (repeatable)', collect)
    .requiredOption('--cluster-key <file>', "the fleet's cluster key (daemonmesh keygen --cluster); copied to cluster.key beside the config")
    .option('--secret-key <file>', "the fleet's secret key, to run pods with Secrets; copied to secret.key (default: none, this host runs no pod that needs a Secret)")
    .option('--trust <file>', 'an operator public key file or key id to trust (repeatable; default: the key that signed the token)', collect)
    .option('--name <name>', 'node name (default: the host name)')
    .option('--label <key=value>', 'a node label (repeatable)', collect)
    .option('--listen <addr>', 'libp2p listen address (repeatable; default /ip4/0.0.0.0/tcp/7946)', collect)
    .option('--config <file>', 'the config to write', '/etc/daemonmesh/agent.yaml')
    .option('--data-dir <dir>', "the agent's data directory", '/var/lib/daemonmesh')
    .option('--api <address>', 'the agent API', 'unix:///run/daemonmesh/agent.sock')
    .option('--docker <address>', 'the Docker engine, unix:///PATH or none (default unix:///var/run/docker.sock)')
    .option('--force', 'replace an existing config and key files')
    .option('--no-start', 'write the files only; do not enable or start the unit')
    .addHelpText('after', "\nExamples:\n  daemonmesh join --token edge.token --cluster-key cluster.key --bootstrap /ip4/10.0.0.1/tcp/7946\n  daemonmesh join --token edge.token --cluster-key cluster.key --secret-key secret.key --bootstrap /ip4/10.0.0.1/tcp/7946 --label zone=shop-12\n")
    // It validates with the agent's config rules and parses multiaddrs: loaded on use, as every verb.
    .action(async (opts: JoinOptions) => (await verbs.join()).runJoin(opts, out))

  program
    .command('keygen')
    .description('write an operator ed25519 key pair (FILE and FILE.pub), or with --cluster a cluster pre-shared key, or with --secret a fleet secret key (seals Secrets)')
    .requiredOption('--out <file>', 'where to write the key (the private key gets mode 0600)')
    .option('--cluster', 'write a cluster pre-shared key instead of an operator key pair')
    .option('--secret', 'write a fleet secret key (AES-256, for Secrets) instead of an operator key pair')
    .option('--force', 'overwrite existing files')
    .addHelpText('after', '\nExamples:\n  daemonmesh keygen --out operator.key\n  daemonmesh keygen --cluster --out cluster.key\n  daemonmesh keygen --secret --out secret.key\n')
    .action(async (opts: { out: string; cluster?: boolean; secret?: boolean; force?: boolean }) => (await verbs.keygen()).runKeygen(opts, out))

  program
    .command('fingerprint')
    .description("print the SHA-256 fingerprint of this host's agent API certificate (DATADIR/api.crt), to pin with --fingerprint")
    .option('--data-dir <dir>', "the agent's data directory (default .daemonmesh)")
    .option('--cert <file>', 'a certificate file instead')
    .addHelpText('after', '\nExamples:\n  daemonmesh fingerprint --data-dir /var/lib/daemonmesh\n  daemonmesh get nodes --agent https://10.0.0.5:7947 --token-file api.token --fingerprint "$(daemonmesh fingerprint)"\n')
    .action(async (opts: { dataDir?: string; cert?: string }) => (await verbs.fingerprint()).runFingerprint(opts, out))

  program
    .command('agent')
    .description('run the daemonmesh agent on this host (daemonmesh agent --help for its flags)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[flags...]')
    .action(async (flags: string[]) => {
      // The agent parses its own flags; the CLI only hands over.
      const { runAgent } = await import('../agent/main.js')
      const code = await runAgent(flags, err, out)
      if (code !== 0) throw new CliError('', code)
    })

  program
    .command('version')
    .description('print the version, the git commit of the build and the Node version')
    .action(async () => {
      await (await verbs.version()).runVersion(out)
    })

  return program
}

/** main runs the CLI with `argv` and returns the exit code. */
export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const program = buildProgram(out, err)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return ExitCode.ok
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.ok
      return e.exitCode === 0 ? ExitCode.ok : ExitCode.usage
    }
    if (e instanceof CliError) {
      if (e.message !== '') err.write(`error: ${e.message}\n`)
      return e.exitCode
    }
    err.write(`error: ${(e as Error).message}\n`)
    return ExitCode.error
  }
}
