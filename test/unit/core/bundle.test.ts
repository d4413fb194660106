import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { daemonSetWarnings, documentWarnings, readBundle, resourceName, skipReason } from '../../../core/bundle.js'
import { parseManifests } from '../../../core/manifest.js'
import { repoPath } from '../../helpers/fixtures.js'

const ds = (name: string, extra = ''): string =>
  `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ${name}}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i:1${extra}}]\n`

/** summary renders a bundle as the lines apply would print (objects) plus its errors and warnings. */
function summary(text: string): { objects: string[]; errors: string[]; warnings: string[] } {
  const b = readBundle(parseManifests(text, 'f.yaml'))
  return { objects: b.objects.map((o) => (o.skipped !== undefined ? `${o.resource} skipped: ${o.skipped}` : `${o.resource} apply`)), errors: b.errors, warnings: b.warnings }
}

describe('bundles', () => {
  describe('resourceName is kubectl\'s KIND[.GROUP]/NAME', () => {
    const cases: [string, string, string, string][] = [
      ['v1', 'ServiceAccount', 'fluentd-es', 'serviceaccount/fluentd-es'],
      ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'fluent-bit', 'clusterrole.rbac.authorization.k8s.io/fluent-bit'],
      ['policy/v1beta1', 'PodSecurityPolicy', 'psp', 'podsecuritypolicy.policy/psp'],
      ['monitoring.coreos.com/v1', 'ServiceMonitor', 'x', 'servicemonitor.monitoring.coreos.com/x'],
      ['', 'Widget', 'w', 'widget/w'],
      ['v1', 'ConfigMap', '', 'configmap'],
    ]
    for (const [apiVersion, kind, name, want] of cases) {
      it(`${apiVersion === '' ? 'no apiVersion' : apiVersion} ${kind} ${name === '' ? '(no name)' : name} is ${want}`, () => assert.equal(resourceName(apiVersion, kind, name), want))
    }
  })

  it('skipReason: DaemonSets, ConfigMaps and Secrets are applied, nodes join by themselves, anything else is not used', () => {
    assert.equal(skipReason('DaemonSet'), undefined)
    assert.equal(skipReason('ConfigMap'), undefined)
    assert.equal(skipReason('Secret'), undefined)
    assert.match(skipReason('Node') ?? '', /^not applied by daemonmesh \(a node joins by itself/)
    for (const kind of ['ServiceAccount', 'ClusterRole', 'PodSecurityPolicy', 'Deployment', 'Frobnicator']) assert.equal(skipReason(kind), 'not used by daemonmesh')
  })

  const cases: { name: string; text: string; want: { objects: string[]; errors?: RegExp[]; warnings?: number } }[] = [
    {
      name: 'every other kind is skipped once, in document order, around the DaemonSets',
      text: `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: fluentd-es, namespace: kube-system}\n---\n${ds('one')}---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n---\napiVersion: example.com/v1\nkind: Frobnicator\nmetadata: {name: f}\n---\n${ds('two')}`,
      want: { objects: ['serviceaccount/fluentd-es skipped: not used by daemonmesh', 'daemonset.apps/one apply', 'secret/s apply', 'frobnicator.example.com/f skipped: not used by daemonmesh', 'daemonset.apps/two apply'] },
    },
    {
      name: 'a List\'s items are documents of their own',
      text: `apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: a}}\n`,
      want: { objects: ['configmap/c apply', 'serviceaccount/a skipped: not used by daemonmesh'] },
    },
    {
      name: 'empty documents are ignored',
      text: `---\n---\n# only a comment\n---\n${ds('one')}---\n`,
      want: { objects: ['daemonset.apps/one apply'] },
    },
    {
      name: 'an invalid DaemonSet is an error, with its field path, beside skipped objects',
      text: `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\n${ds('Bad_Name')}`,
      want: { objects: ['serviceaccount/a skipped: not used by daemonmesh'], errors: [/^f\.yaml \(document 2\): DaemonSet default\/Bad_Name: metadata\.name: Invalid value: "Bad_Name"/] },
    },
    {
      name: 'a document that is no object, or has no kind, is an error',
      text: 'just text\n---\napiVersion: v1\nmetadata: {name: x}\n',
      want: { objects: [], errors: [/^f\.yaml \(document 1\): a manifest document must be a mapping/, /^f\.yaml \(document 2\): kind: required$/] },
    },
    {
      name: 'a List without items is an error',
      text: 'apiVersion: v1\nkind: List\n',
      want: { objects: [], errors: [/^f\.yaml: List: items: required$/] },
    },
    {
      name: 'a Node is skipped, even an invalid one: apply does not use it',
      text: 'kind: Node\nmetadata: {name: Not_Valid}\n',
      want: { objects: ['node/Not_Valid skipped: not applied by daemonmesh (a node joins by itself; use label node or taint node)'] },
    },
    {
      name: 'skipped objects are not checked: their nulls and odd fields are theirs',
      text: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: c, labels: null}\nsecrets: [null]\n',
      want: { objects: ['serviceaccount/c skipped: not used by daemonmesh'] },
    },
    {
      name: 'a ConfigMap is checked like a DaemonSet: an invalid one is an error, its unknown fields warnings',
      text: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: null}\ndata: {"a/b": x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {k: v}\ncolour: red\n',
      want: { objects: ['configmap/d apply'], errors: [/^f\.yaml \(document 1\): ConfigMap default\/c: data\["a\/b"\]: Invalid value: "a\/b"/], warnings: 1 },
    },
    {
      name: 'a DaemonSet\'s unknown and unsupported fields are warnings, and it is still applied',
      text: ds('w', ', colour: red, resizePolicy: [{resourceName: cpu}]'),
      want: { objects: ['daemonset.apps/w apply'], warnings: 2 },
    },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const got = summary(c.text)
      assert.deepEqual(got.objects, c.want.objects)
      assert.equal(got.errors.length, (c.want.errors ?? []).length, got.errors.join('\n'))
      ;(c.want.errors ?? []).forEach((re, i) => assert.match(got.errors[i] ?? '', re))
      assert.equal(got.warnings.length, c.want.warnings ?? 0, got.warnings.join('\n'))
    })
  }

  it('documentWarnings lists unknown fields, then what the pod plan does not honour, as check and apply print them', () => {
    const [d] = parseManifests(ds('w', ', colour: red, resizePolicy: [{resourceName: cpu}]'), 'w.yaml')
    assert.ok(d)
    assert.deepEqual(documentWarnings(d), [
      'w.yaml: DaemonSet default/w: spec.template.spec.containers[0].colour: unknown field (ignored)',
      'w.yaml: DaemonSet default/w: spec.template.spec.containers[0].resizePolicy: not supported (ignored)',
    ])
  })

  it('daemonSetWarnings is what the agents do not honour of a stored DaemonSet: the plan\'s part of documentWarnings', () => {
    const [d] = parseManifests(ds('w', ', colour: red, resizePolicy: [{resourceName: cpu}]'), 'w.yaml')
    assert.ok(d?.daemonSet)
    assert.deepEqual(daemonSetWarnings(d.daemonSet), [{ path: 'spec.template.spec.containers[0].resizePolicy', message: 'not supported (ignored)' }])
    const [clean] = parseManifests(ds('c', ''), 'c.yaml')
    assert.ok(clean?.daemonSet)
    assert.deepEqual(daemonSetWarnings(clean.daemonSet), [])
  })

  it('the fluent-bit bundle fixture: three objects skipped, the ConfigMap and the DaemonSet (with its nulls) applied, with one warning (its livenessProbe is honoured)', () => {
    const b = readBundle(parseManifests(readFileSync(repoPath('test/fixtures/bundles/fluent-bit.yaml'), 'utf8'), 'fluent-bit.yaml'))
    assert.deepEqual(b.errors, [])
    assert.deepEqual(b.objects.map((o) => `${o.where}: ${o.resource}${o.skipped === undefined ? '' : ` skipped: ${o.skipped}`}`), [
      'fluent-bit.yaml (document 1): serviceaccount/fluent-bit skipped: not used by daemonmesh',
      'fluent-bit.yaml (document 2): configmap/fluent-bit',
      'fluent-bit.yaml (document 3): clusterrole.rbac.authorization.k8s.io/fluent-bit skipped: not used by daemonmesh',
      'fluent-bit.yaml (document 4): clusterrolebinding.rbac.authorization.k8s.io/fluent-bit skipped: not used by daemonmesh',
      'fluent-bit.yaml (document 6): daemonset.apps/fluent-bit',
    ])
    const spec = b.objects[4]?.daemonSet?.spec.template.spec
    assert.equal(spec?.tolerations, undefined)
    assert.equal(spec?.nodeSelector, undefined)
    assert.equal(spec?.containers[0]?.resources, undefined)
    assert.deepEqual(b.warnings.map((w) => w.replace(/^.*?fluent-bit: /, '')), [
      'spec.template.spec.serviceAccountName: no service account token is mounted (there is no API server); the name reaches the downward API only',
    ])
  })
})
