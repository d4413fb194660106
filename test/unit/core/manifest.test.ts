import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadDaemonSets, parseDaemonSet, parseManifests, stripNulls } from '../../../core/manifest.js'
import { ValidationError } from '../../../core/errors.js'
import type { DaemonSet } from '../../../core/types.js'
import { rawDs, seedFiles } from '../../helpers/fixtures.js'

describe('manifests', () => {
  it('file modes written as YAML 1.1 octals (0644) are octal, as Kubernetes reads them; decimals stay decimal', () => {
    const text = `apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: m}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers: [{name: c, image: i:1}]\n      volumes: [{name: v, downwardAPI: {defaultMode: 0644, items: [{path: x, fieldRef: {fieldPath: metadata.name}, mode: 256}, {path: y, fieldRef: {fieldPath: metadata.uid}, mode: 0}]}}]\n`
    const [d] = parseManifests(text, 'm.yaml')
    assert.deepEqual(d?.errors, [])
    const api = d?.daemonSet?.spec.template.spec.volumes?.[0]?.downwardAPI
    assert.equal(api?.defaultMode, 0o644)
    assert.deepEqual(api?.items?.map((i) => i.mode), [256, 0])
  })

  for (const seed of seedFiles()) {
    it(`seed ${seed.name} parses verbatim with no error and no warning`, () => {
      const docs = parseManifests(seed.text, seed.name)
      assert.equal(docs.length, 1)
      assert.deepEqual(docs[0]?.errors, [])
      assert.deepEqual(docs[0]?.warnings, [])
      assert.ok(docs[0]?.daemonSet)
    })
  }

  it('extensions/v1beta1 defaults selector and labels from the template and uses OnDelete', () => {
    const seed = seedFiles().find((s) => s.name.startsWith('seed003'))
    assert.ok(seed)
    const [d] = loadDaemonSets(seed.text, 'seed003')
    assert.ok(d)
    assert.deepEqual(d.spec.selector, { matchLabels: { app: 'fluentd' } })
    assert.deepEqual(d.metadata.labels, { app: 'fluentd' })
    assert.equal(d.spec.updateStrategy?.type, 'OnDelete')
    assert.equal(d.spec.updateStrategy?.rollingUpdate, undefined)
    assert.equal(d.metadata.namespace, 'default')
    assert.equal(d.spec.revisionHistoryLimit, 10)
    assert.equal(d.spec.template.spec.restartPolicy, 'Always')
    assert.equal(d.spec.template.spec.terminationGracePeriodSeconds, 30)
    assert.equal(d.spec.template.spec.containers[0]?.imagePullPolicy, 'IfNotPresent')
  })

  it('apps/v1 defaults RollingUpdate with maxUnavailable 1 and maxSurge 0', () => {
    const r = parseDaemonSet(rawDs())
    assert.deepEqual(r.errors, [])
    assert.deepEqual(r.daemonSet?.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } })
  })

  it('apps/v1beta2 defaults like apps/v1 and requires a selector', () => {
    const r = parseDaemonSet(rawDs({}, { apiVersion: 'apps/v1beta2' }))
    assert.equal(r.daemonSet?.spec.updateStrategy?.type, 'RollingUpdate')
    const noSel = rawDs({}, { apiVersion: 'apps/v1beta2' }) as { spec: Record<string, unknown> }
    delete noSel.spec.selector
    assert.deepEqual(parseDaemonSet(noSel).errors, [{ path: 'spec.selector', message: 'required' }])
  })

  it('apps/v1 requires a selector (no defaulting from template labels)', () => {
    const obj = rawDs() as { spec: Record<string, unknown> }
    delete obj.spec.selector
    assert.deepEqual(parseDaemonSet(obj).errors, [{ path: 'spec.selector', message: 'required' }])
  })

  it('extensions/v1beta1 keeps an explicit RollingUpdate strategy and fills its defaults', () => {
    const r = parseDaemonSet(rawDs({}, { apiVersion: 'extensions/v1beta1', spec: { updateStrategy: { type: 'RollingUpdate' } } }))
    assert.deepEqual(r.daemonSet?.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } })
  })

  const pullPolicies: [string, string][] = [
    ['busybox', 'Always'],
    ['busybox:latest', 'Always'],
    ['busybox:1.36', 'IfNotPresent'],
    ['localhost:5000/busybox', 'Always'],
    ['localhost:5000/busybox:1', 'IfNotPresent'],
    ['busybox@sha256:' + 'a'.repeat(64), 'IfNotPresent'],
  ]
  for (const [image, policy] of pullPolicies) {
    it(`image ${image.slice(0, 30)} defaults imagePullPolicy to ${policy}`, () => {
      const r = parseDaemonSet(rawDs({ containers: [{ name: 'c', image }] }))
      assert.equal(r.daemonSet?.spec.template.spec.containers[0]?.imagePullPolicy, policy)
    })
  }

  it('an explicit imagePullPolicy is kept', () => {
    const r = parseDaemonSet(rawDs({ containers: [{ name: 'c', image: 'x:latest', imagePullPolicy: 'Never' }] }))
    assert.equal(r.daemonSet?.spec.template.spec.containers[0]?.imagePullPolicy, 'Never')
  })

  it('defaulting does not change the input object', () => {
    const obj = rawDs()
    const before = JSON.stringify(obj)
    parseDaemonSet(obj)
    assert.equal(JSON.stringify(obj), before)
  })

  it('reads several documents, Lists, and skips empty documents', () => {
    const text = ['---', 'apiVersion: v1', 'kind: List', 'items:', '- apiVersion: apps/v1', '  kind: DaemonSet', '  metadata: {name: a}', '  spec:', '    selector: {matchLabels: {x: y}}', '    template: {metadata: {labels: {x: y}}, spec: {containers: [{name: c, image: i:1}]}}', '---', '---', 'apiVersion: v1', 'kind: Node', 'metadata: {name: n1}'].join('\n')
    const docs = parseManifests(text, 'f.yaml')
    assert.deepEqual(docs.map((d) => [d.kind, d.name, d.errors.length]), [['DaemonSet', 'default/a', 0], ['Node', 'n1', 0]])
    assert.match(docs[0]?.where ?? '', /items\[0\]/)
  })

  it('unknown fields are warnings with their path, not errors', () => {
    const obj = rawDs({ containers: [{ name: 'c', image: 'i:1', colour: 'blue' }], frobnicate: true })
    const r = parseDaemonSet(obj)
    assert.deepEqual(r.errors, [])
    assert.ok(r.daemonSet)
    assert.deepEqual(r.warnings.map((w) => w.path).sort(), ['spec.template.spec.containers[0].colour', 'spec.template.spec.frobnicate'])
  })

  it('bad YAML is reported, not thrown', () => {
    const docs = parseManifests('kind: DaemonSet\n  bad: [indent\n', 'bad.yaml')
    assert.equal(docs.length, 1)
    assert.match(docs[0]?.errors[0]?.message ?? '', /^YAML: /)
  })

  it('duplicate keys are an error', () => {
    const docs = parseManifests('kind: DaemonSet\nkind: DaemonSet\n', 'dup.yaml')
    assert.match(docs[0]?.errors[0]?.message ?? '', /YAML: .*[Mm]ap keys must be unique/)
  })

  it('a YAML alias bomb is refused', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)
    const docs = parseManifests(lines.join('\n'), 'bomb.yaml')
    assert.match(docs[0]?.errors[0]?.message ?? '', /YAML: .*alias/i)
  })

  it('other kinds are returned unchecked and without errors; an unsupported DaemonSet apiVersion is an error naming the field', () => {
    const docs = parseManifests('apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: 42\n', 'd.yaml')
    assert.deepEqual(docs.map((d) => [d.apiVersion, d.kind, d.name, d.errors, d.warnings, d.daemonSet]), [['apps/v1', 'Deployment', 'x', [], [], undefined]])
    const r = parseDaemonSet({ ...rawDs(), apiVersion: 'apps/v2' })
    assert.equal(r.errors[0]?.path, 'apiVersion')
    assert.match(r.errors[0]?.message ?? '', /Unsupported value: "apps\/v2"/)
  })

  it('a document without a kind is an error', () => {
    const docs = parseManifests('apiVersion: v1\nkind: null\nmetadata: {name: x}\n', 'k.yaml')
    assert.deepEqual(docs[0]?.errors, [{ path: '', message: 'kind: required' }])
  })

  it('a typed list (ServiceList) is read as a list only when it has items; a kind ending in List without items is an object', () => {
    const docs = parseManifests('apiVersion: v1\nkind: ServiceList\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n---\napiVersion: example.com/v1\nkind: IPAllowList\nmetadata: {name: a}\n', 'l.yaml')
    assert.deepEqual(docs.map((d) => [d.kind, d.name, d.errors.length]), [['Service', 's', 0], ['IPAllowList', 'a', 0]])
  })

  it('a scalar document is an error', () => {
    const docs = parseManifests('just text', 's.yaml')
    assert.match(docs[0]?.errors[0]?.message ?? '', /must be a mapping/)
  })

  it('loadDaemonSets throws one ValidationError listing every error of every document', () => {
    const bad = 'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: Bad_Name}\nspec:\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c}]}}\n'
    assert.throws(() => loadDaemonSets(`${bad}---\n${bad}`, 'x.yaml'), (err: unknown) => {
      assert.ok(err instanceof ValidationError)
      assert.equal(err.name, 'ValidationError')
      assert.equal(err.issues.length, 4)
      assert.deepEqual(err.issues.slice(0, 2).map((i) => i.path), ["spec.template.spec.containers[0].image", "metadata.name"])
      return true
    })
  })

  describe('explicit null means absent, as Kubernetes decodes it', () => {
    // Each case: a DaemonSet with one field set to null (YAML), and what comes of it.
    const cases: { name: string; podSpec?: string; container?: string; top?: string; want: { errors: string[]; check?: (ds: DaemonSet) => void } }[] = [
      { name: 'tolerations: null is no tolerations', podSpec: 'tolerations: null', want: { errors: [], check: (d) => assert.equal(d.spec.template.spec.tolerations, undefined) } },
      { name: 'nodeSelector: ~ is no nodeSelector', podSpec: 'nodeSelector: ~', want: { errors: [], check: (d) => assert.equal(d.spec.template.spec.nodeSelector, undefined) } },
      { name: 'an empty value (affinity:) is null, so absent', podSpec: 'affinity:', want: { errors: [] } },
      { name: 'securityContext, volumes and priorityClassName null are absent', podSpec: 'securityContext: null\n      volumes: null\n      priorityClassName: null', want: { errors: [] } },
      { name: 'resources: null and env: null in a container are absent', container: 'resources: null\n        env: null\n        envFrom: null', want: { errors: [], check: (d) => assert.equal(d.spec.template.spec.containers[0]?.resources, undefined) } },
      { name: 'a null inside a nested object (resources.limits) is absent', container: 'resources: {limits: null, requests: {cpu: 100m}}', want: { errors: [], check: (d) => assert.deepEqual(d.spec.template.spec.containers[0]?.resources, { requests: { cpu: '100m' } }) } },
      { name: 'an env value of null is absent (an empty variable)', container: 'env: [{name: A, value: null}]', want: { errors: [], check: (d) => assert.deepEqual(d.spec.template.spec.containers[0]?.env, [{ name: 'A' }]) } },
      { name: 'updateStrategy: null gets the default strategy', top: 'updateStrategy: null', want: { errors: [], check: (d) => assert.equal(d.spec.updateStrategy?.type, 'RollingUpdate') } },
      { name: 'selector: null in apps/v1 is a missing selector', top: 'selector: null', want: { errors: ['spec.selector: required'] } },
      { name: 'a null required field is missing (image: null)', container: 'image: null', want: { errors: ['spec.template.spec.containers[0].image: required'] } },
      { name: 'a null toleration is an error at its index, said once', podSpec: 'tolerations: [null, {operator: Exists}]', want: { errors: ['spec.template.spec.tolerations[0]: Invalid value: null: a list item may not be null'] } },
      { name: 'a null string in args is an error', container: 'args: [--a, ~]', want: { errors: ['spec.template.spec.containers[0].args[1]: Invalid value: null: a list item may not be null'] } },
      { name: 'a null item of a field the schema does not type (imagePullSecrets) is an error too', podSpec: 'imagePullSecrets: [null]', want: { errors: ['spec.template.spec.imagePullSecrets[0]: Invalid value: null: a list item may not be null'] } },
      { name: 'a null container is an error, and only that', podSpec: 'initContainers: [null]', want: { errors: ['spec.template.spec.initContainers[0]: Invalid value: null: a list item may not be null'] } },
    ]
    for (const c of cases) {
      it(c.name, () => {
        const text = [
          'apiVersion: apps/v1',
          'kind: DaemonSet',
          'metadata: {name: x, labels: null, annotations: null}',
          'spec:',
          ...(c.top === undefined ? ['  selector: {matchLabels: {a: b}}'] : c.top.startsWith('selector') ? [`  ${c.top}`] : ['  selector: {matchLabels: {a: b}}', `  ${c.top}`]),
          '  template:',
          '    metadata: {labels: {a: b}}',
          '    spec:',
          ...(c.podSpec === undefined ? [] : [`      ${c.podSpec}`]),
          '      containers:',
          '      - name: c',
          ...(c.container?.startsWith('image') === true ? [] : ['        image: i:1']),
          ...(c.container === undefined ? [] : [`        ${c.container}`]),
        ].join('\n')
        const [d, ...rest] = parseManifests(text, 'n.yaml')
        assert.equal(rest.length, 0)
        assert.deepEqual(d?.errors.map((e) => (e.path === '' ? e.message : `${e.path}: ${e.message}`)), c.want.errors)
        assert.deepEqual(d?.warnings, [])
        if (c.want.errors.length === 0) {
          assert.ok(d?.daemonSet)
          c.want.check?.(d.daemonSet)
        } else {
          assert.equal(d?.daemonSet, undefined)
        }
      })
    }

    it('a Node with taints: null and labels: null is a node with none', () => {
      const [d] = parseManifests('kind: Node\nmetadata: {name: n, labels: null}\nspec: {taints: null}\n', 'n.yaml')
      assert.deepEqual(d?.errors, [])
      assert.deepEqual([d?.node?.labels, d?.node?.taints], [{}, []])
    })

    it('stripNulls drops null fields at any depth, reports null items, and leaves its input alone', () => {
      const input = { a: null, b: { c: null, d: [1, null, { e: null, f: 'x' }] }, g: [[null]] }
      const before = JSON.stringify(input)
      assert.deepEqual(stripNulls(input, 'root'), {
        value: { b: { d: [1, null, { f: 'x' }] }, g: [[null]] },
        errors: [
          { path: 'root.b.d[1]', message: 'Invalid value: null: a list item may not be null' },
          { path: 'root.g[0][0]', message: 'Invalid value: null: a list item may not be null' },
        ],
      })
      assert.equal(JSON.stringify(input), before)
    })

    it('a null item of a List is a document that is not a mapping', () => {
      const docs = parseManifests('apiVersion: v1\nkind: List\nitems: [null]\n', 'l.yaml')
      assert.match(docs[0]?.errors[0]?.message ?? '', /must be a mapping/)
    })
  })
})
