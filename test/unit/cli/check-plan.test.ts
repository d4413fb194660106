import assert from 'node:assert/strict'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { runCli } from '../../helpers/cli.js'
import { repoPath } from '../../helpers/fixtures.js'
import { tempDir } from '../../helpers/temp-dir.js'

const tmp = await tempDir('dm-cli-')
const write = async (name: string, text: string): Promise<string> => {
  const p = join(tmp, name)
  await writeFile(p, text)
  return p
}

describe('daemonmesh check', () => {
  it('every seed manifest checks cleanly', async () => {
    const r = await runCli('check', '-f', repoPath('test/fixtures/seeds'))
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.equal(r.stdout.split('\n').filter((l) => l.includes('is valid')).length, 5)
  })

  it('prints each error with its path and exits 1', async () => {
    const f = await write('bad.yaml', 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: c}}\n    spec:\n      containers: [{name: c}]\n')
    const r = await runCli('check', '-f', f)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /error: .*bad\.yaml: DaemonSet default\/x: spec\.template\.spec\.containers\[0\]\.image: required/)
    assert.match(r.stderr, /error: .*spec\.template\.metadata\.labels: Invalid value: .*does not match/)
    assert.match(r.stderr, /error: 2 errors found/)
  })

  it('prints unknown fields as warnings and still succeeds', async () => {
    const f = await write('warn.yaml', 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i:1, colour: red}]\n')
    const r = await runCli('check', '-f', f)
    assert.equal(r.code, 0)
    assert.match(r.stderr, /warning: .*spec\.template\.spec\.containers\[0\]\.colour: unknown field \(ignored\)/)
  })

  it('a missing file is one clear error', async () => {
    const r = await runCli('check', '-f', join(tmp, 'nope.yaml'))
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^error: -f .*nope\.yaml: no such file or directory\n$/)
  })

  it('no -f is a usage error (exit 2)', async () => {
    const r = await runCli('check')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /-f is required/)
  })

  it('an empty file has no objects and fails', async () => {
    const r = await runCli('check', '-f', await write('empty.yaml', '# nothing\n'))
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no objects found/)
  })
})

describe('bundles: mixed documents, directories, -R', () => {
  const bundle = repoPath('test/fixtures/bundles/fluent-bit.yaml')
  const dir = repoPath('test/fixtures/bundles/node-exporter')
  const noAgent = `unix://${join(tmp, 'no-agent.sock')}`

  it('check reports what apply would skip, once per document, and the warnings apply prints', async () => {
    const r = await runCli('check', '-f', bundle)
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.replaceAll(`${bundle} `, '').replace(/revision [a-z0-9]+$/m, 'revision REV').split('\n'), [
      '(document 1): serviceaccount/fluent-bit skipped: not used by daemonmesh',
      '(document 2): configmap/fluent-bit (namespace logging) is valid',
      '(document 3): clusterrole.rbac.authorization.k8s.io/fluent-bit skipped: not used by daemonmesh',
      '(document 4): clusterrolebinding.rbac.authorization.k8s.io/fluent-bit skipped: not used by daemonmesh',
      '(document 6): daemonset.apps/fluent-bit (namespace logging) is valid, revision REV',
      '',
    ])
    assert.equal(
      r.stderr,
      [
        `warning: ${bundle} (document 6): DaemonSet logging/fluent-bit: spec.template.spec.serviceAccountName: no service account token is mounted (there is no API server); the name reaches the downward API only`,
        '',
      ].join('\n'),
    )
  })

  it('a directory is read in name order, .yaml, .yml and .json only; its subdirectories only with -R', async () => {
    const flat = await runCli('check', '-f', dir)
    assert.equal(flat.code, 0, flat.stderr)
    const names = (out: string): string[] => out.trim().split('\n').map((l) => l.slice(dir.length + 1).replace(/:.*/, ''))
    assert.deepEqual(names(flat.stdout), ['00-namespace.yaml', '10-rbac.yaml items[0]', '10-rbac.yaml items[1]', '10-rbac.yaml items[2]', '20-daemonset.yml', '30-service.json'])
    const deep = await runCli('check', '-R', '-f', dir)
    assert.equal(deep.code, 0, deep.stderr)
    assert.deepEqual(names(deep.stdout).slice(6), ['extra/40-servicemonitor.yaml'])
    assert.match(deep.stdout, /extra\/40-servicemonitor\.yaml: servicemonitor\.monitoring\.coreos\.com\/node-exporter skipped: not used by daemonmesh\n$/)
    assert.equal((await runCli('check', '--recursive', '-f', dir)).stdout, deep.stdout)
  })

  it('a directory whose manifests are all in subdirectories needs -R', async () => {
    const d = join(tmp, 'nested')
    await mkdir(join(d, 'sub'), { recursive: true })
    await writeFile(join(d, 'sub', 'sa.yaml'), 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n')
    const r = await runCli('check', '-f', d)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /nested: the directory holds no \.yaml, \.yml or \.json file/)
    assert.equal((await runCli('check', '-R', '-f', d)).code, 0)
  })

  it('apply of a bundle whose DaemonSet is invalid writes nothing and says why, after its warnings', async () => {
    const f = await write('bad-bundle.yaml', `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      tolerations: [null]\n      containers: [{name: c, colour: red}]\n`)
    const r = await runCli('apply', '-f', f, '--agent', noAgent, '--key', join(tmp, 'no.key'))
    assert.deepEqual(r, {
      code: 1,
      stdout: '',
      stderr: [
        `Warning: ${f} (document 2): DaemonSet default/x: spec.template.spec.containers[0].colour: unknown field (ignored)`,
        `error: ${f} (document 2): DaemonSet default/x: spec.template.spec.tolerations[0]: Invalid value: null: a list item may not be null`,
        `error: ${f} (document 2): DaemonSet default/x: spec.template.spec.containers[0].image: required`,
        'error: 2 errors found; nothing applied',
        '',
      ].join('\n'),
    })
  })

  it('apply and delete -f of a bundle with no DaemonSet print what they skip, and need neither a key nor an agent', async () => {
    const f = await write('rbac-only.yaml', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: fluentd-es, namespace: kube-system}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: fluentd-es}\n')
    const want = { code: 0, stdout: 'serviceaccount/fluentd-es skipped: not used by daemonmesh\nclusterrole.rbac.authorization.k8s.io/fluentd-es skipped: not used by daemonmesh\n', stderr: '' }
    assert.deepEqual(await runCli('apply', '-f', f, '--agent', noAgent, '--key', join(tmp, 'no.key')), want)
    assert.deepEqual(await runCli('delete', '-f', f, '--agent', noAgent, '--key', join(tmp, 'no.key')), want)
  })

  it('apply of nothing at all is an error, as kubectl\'s', async () => {
    const r = await runCli('apply', '-f', await write('empty-docs.yaml', '---\n---\n'), '--agent', noAgent)
    assert.deepEqual(r, { code: 1, stdout: '', stderr: 'error: no objects passed to apply\n' })
  })

  it('plan -f takes a bundle: other kinds are skipped on stderr, the plan is unchanged', async () => {
    const r = await runCli('plan', '-R', '-f', dir, '--nodes', repoPath('examples/nodes.yaml'), '-o', 'json')
    assert.equal(r.code, 0, r.stderr)
    assert.equal((JSON.parse(r.stdout) as { daemonset: string }[]).filter((x) => x.daemonset === 'monitoring/node-exporter').length, 4)
    assert.deepEqual(r.stderr.split('\n').filter((l) => l.includes('skipped')), [
      'namespace/monitoring skipped: not used by daemonmesh',
      'serviceaccount/node-exporter skipped: not used by daemonmesh',
      'clusterrole.rbac.authorization.k8s.io/node-exporter skipped: not used by daemonmesh',
      'clusterrolebinding.rbac.authorization.k8s.io/node-exporter skipped: not used by daemonmesh',
      'service/node-exporter skipped: not used by daemonmesh',
      'servicemonitor.monitoring.coreos.com/node-exporter skipped: not used by daemonmesh',
    ])
  })
})

describe('daemonmesh plan', () => {
  const nodes = repoPath('examples/nodes.yaml')
  const dss = repoPath('examples/daemonsets.yaml')

  it('prints a table with a reason for every no', async () => {
    const r = await runCli('plan', '-f', dss, '--nodes', nodes)
    assert.equal(r.code, 0, r.stderr)
    assert.equal(
      r.stdout,
      [
        'DAEMONSET                           NODE       RUN   REASONS',
        'kube-system/fluentd-elasticsearch   master-1   yes',
        'kube-system/fluentd-elasticsearch   worker-1   yes',
        'kube-system/fluentd-elasticsearch   worker-2   yes',
        'kube-system/fluentd-elasticsearch   gpu-1      no    taint dedicated=gpu:NoSchedule is not tolerated',
        'default/ssd-exporter                master-1   no    nodeSelector: node lacks label disktype=ssd; taint node-role.kubernetes.io/master:NoSchedule is not tolerated',
        'default/ssd-exporter                worker-1   yes',
        'default/ssd-exporter                worker-2   no    nodeSelector: node lacks label disktype=ssd',
        'default/ssd-exporter                gpu-1      no    nodeSelector: node lacks label disktype=ssd; taint dedicated=gpu:NoSchedule is not tolerated',
        '',
      ].join('\n'),
    )
  })

  it('-o json prints the documented array', async () => {
    const r = await runCli('plan', '-f', dss, '--nodes', nodes, '-o', 'json')
    assert.equal(r.code, 0)
    const rows = JSON.parse(r.stdout) as { daemonset: string; node: string; run: boolean; reasons: string[] }[]
    assert.equal(rows.length, 8)
    assert.deepEqual(rows[3], { daemonset: 'kube-system/fluentd-elasticsearch', node: 'gpu-1', run: false, reasons: ['taint dedicated=gpu:NoSchedule is not tolerated'] })
    for (const row of rows) assert.deepEqual(Object.keys(row), ['daemonset', 'node', 'run', 'reasons'])
  })

  it('every seed plans cleanly against the example nodes', async () => {
    const r = await runCli('plan', '-f', repoPath('test/fixtures/seeds'), '--nodes', nodes, '-o', 'json')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 5 * 4)
  })

  it('reads a NodeList and single Node documents', async () => {
    const f = await write('nodes.yaml', 'apiVersion: v1\nkind: NodeList\nitems:\n- kind: Node\n  metadata: {name: a, labels: {disktype: ssd}}\n---\nkind: Node\nmetadata: {name: b}\n')
    const r = await runCli('plan', '-f', dss, '--nodes', f, '-o', 'json')
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual((JSON.parse(r.stdout) as { node: string; run: boolean }[]).map((x) => `${x.node}:${x.run}`), ['a:true', 'b:true', 'a:true', 'b:false'])
  })

  it('a bad nodes file names the field and plans nothing', async () => {
    const f = await write('badnodes.yaml', 'kind: Node\nmetadata: {name: a}\nspec:\n  taints: [{key: k, effect: Sometimes}]\n')
    const r = await runCli('plan', '-f', dss, '--nodes', f)
    assert.equal(r.code, 1)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /spec\.taints\[0\]\.effect: Unsupported value: "Sometimes"/)
  })

  it('a DaemonSet given as a node file is refused', async () => {
    const r = await runCli('plan', '-f', dss, '--nodes', dss)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /expected kind Node with --nodes/)
  })

  it('without --nodes it plans against the live fleet, and says so when no agent answers; -o is checked', async () => {
    const live = await runCli('plan', '-f', dss, '--agent', `unix://${join(tmp, 'no-agent.sock')}`)
    assert.equal(live.code, 1)
    assert.match(live.stderr, /^error: cannot reach the agent at unix:\/\/.*no-agent\.sock: ENOENT \(is the agent running\? pick one with --agent\)\n$/)
    const r = await runCli('plan', '-f', dss, '--nodes', nodes, '-o', 'xml')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /xml/)
  })
})

describe('daemonmesh keygen and version', () => {
  it('writes an operator key pair with a private file of mode 0600', async () => {
    const out = join(tmp, 'op.key')
    const r = await runCli('keygen', '--out', out)
    assert.equal(r.code, 0, r.stderr)
    assert.equal((await stat(out)).mode & 0o777, 0o600)
    assert.match(await readFile(`${out}.pub`, 'utf8'), /BEGIN PUBLIC KEY/)
    assert.match(r.stdout, /key id: +[A-Za-z0-9_-]{43}/)
  })

  it('refuses to overwrite without --force, and leaves the files as they were', async () => {
    const out = join(tmp, 'again.key')
    await runCli('keygen', '--out', out)
    const before = await readFile(out, 'utf8')
    const r = await runCli('keygen', '--out', out)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /file exists; pass --force/)
    assert.equal(await readFile(out, 'utf8'), before)
    assert.equal((await runCli('keygen', '--out', out, '--force')).code, 0)
    assert.notEqual(await readFile(out, 'utf8'), before)
  })

  it('writes a cluster pre-shared key', async () => {
    const out = join(tmp, 'cluster.key')
    assert.equal((await runCli('keygen', '--cluster', '--out', out)).code, 0)
    assert.match(await readFile(out, 'utf8'), /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
  })

  it('version and --help work; an unknown verb is a usage error', async () => {
    assert.match((await runCli('version')).stdout, /^daemonmesh \d+\.\d+\.\d+\ncommit: unknown \(not a package build\)\nnode: v22\.\d+\.\d+\n$/)
    const help = await runCli('plan', '--help')
    assert.equal(help.code, 0)
    assert.match(help.stdout, /Examples:/)
    const bad = await runCli('frobnicate')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /unknown command/)
  })
})
