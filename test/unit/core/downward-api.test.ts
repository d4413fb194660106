import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { podPlan } from '../../../core/container-spec.js'
import { formatMap, podUid } from '../../../core/downward-api.js'
import { revisionOf } from '../../../core/revision.js'
import type { NodeInfo } from '../../../core/types.js'
import { ds, node } from '../../helpers/fixtures.js'

const host: NodeInfo = { name: 'n1', labels: {}, taints: [], addresses: [{ type: 'InternalIP', address: '10.0.0.5' }], capacity: { cpu: 4, memory: 8 * 2 ** 30 } }
const envOf = (podSpec: Record<string, unknown>, n: NodeInfo = host): string[] => podPlan(ds(podSpec), n).containers[0]?.create.Env ?? []
const field = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } })
const resource = (name: string, r: string, divisor?: string, containerName?: string) => ({ name, valueFrom: { resourceFieldRef: { resource: r, ...(divisor === undefined ? {} : { divisor }), ...(containerName === undefined ? {} : { containerName }) } } })

describe('the downward API', () => {
  it('env: uid, service account, host IP and $(HOST_IP) expansion in env, command and args', () => {
    const d = ds({ serviceAccountName: 'fluent-bit', containers: [{ name: 'c', image: 'i:1', command: ['sh', '-c', 'echo $(HOST_IP)'], args: ['--addr=$(HOST_IP):9100'], env: [field('HOST_IP', 'status.hostIP'), field('UID', 'metadata.uid'), field('SA', 'spec.serviceAccountName'), field('IPS', 'status.hostIPs'), { name: 'URL', value: 'http://$(HOST_IP):10250' }] }] })
    const plan = podPlan(d, host)
    const c = plan.containers[0]?.create
    assert.deepEqual(c?.Env, ['HOST_IP=10.0.0.5', `UID=${plan.uid}`, 'SA=fluent-bit', 'IPS=10.0.0.5', 'URL=http://10.0.0.5:10250'])
    assert.deepEqual(c?.Entrypoint, ['sh', '-c', 'echo 10.0.0.5'])
    assert.deepEqual(c?.Cmd, ['--addr=10.0.0.5:9100'])
    assert.match(plan.uid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('the service account defaults to "default"', () => {
    assert.deepEqual(envOf({ containers: [{ name: 'c', image: 'i:1', env: [field('SA', 'spec.serviceAccountName')] }] }), ['SA=default'])
  })

  it('pod uids are stable for a pod and differ per node and revision', () => {
    const d = ds()
    const r = revisionOf(d)
    assert.equal(podUid(d, 'n1', r), podUid(d, 'n1', r))
    assert.notEqual(podUid(d, 'n1', r), podUid(d, 'n2', r))
    assert.notEqual(podUid(d, 'n1', r), podUid(d, 'n1', 'other'))
  })

  it('status.podIP is the host IP with hostNetwork, and reported without it', () => {
    assert.deepEqual(envOf({ hostNetwork: true, containers: [{ name: 'c', image: 'i:1', env: [field('POD_IP', 'status.podIP')] }] }), ['POD_IP=10.0.0.5'])
    const plan = podPlan(ds({ containers: [{ name: 'c', image: 'i:1', env: [field('POD_IP', 'status.podIP')] }] }), host)
    assert.deepEqual(plan.containers[0]?.create.Env, [])
    assert.deepEqual(plan.unsupported.map((u) => u.path), ['spec.template.spec.containers[0].env[0].valueFrom.fieldRef'])
  })

  it('a node without a host IP leaves status.hostIP unresolved, and says so', () => {
    const plan = podPlan(ds({ containers: [{ name: 'c', image: 'i:1', env: [field('H', 'status.hostIP')] }] }), node('old'))
    assert.deepEqual(plan.containers[0]?.create.Env, [])
    assert.match(plan.unsupported[0]?.message ?? '', /node old reports no host IP/)
  })

  const resources = { limits: { cpu: '1500m', memory: '256Mi' }, requests: { cpu: '250m', memory: '100Mi' } }
  const resourceCases: [string, Record<string, unknown>, ReturnType<typeof resource>, string][] = [
    ['limits.cpu rounds up to whole cores by default', resources, resource('R', 'limits.cpu'), 'R=2'],
    ['limits.cpu in millicores', resources, resource('R', 'limits.cpu', '1m'), 'R=1500'],
    ['requests.memory in Mi', resources, resource('R', 'requests.memory', '1Mi'), 'R=100'],
    ['limits.memory in bytes', resources, resource('R', 'limits.memory'), `R=${256 * 2 ** 20}`],
    ['requests default to limits', { limits: { cpu: '2' } }, resource('R', 'requests.cpu', '1m'), 'R=2000'],
    ['a request nothing sets is 0', {}, resource('R', 'requests.memory'), 'R=0'],
    ['a limit not set is the node capacity', {}, resource('R', 'limits.memory', '1Gi'), 'R=8'],
    ['cpu capacity too', {}, resource('R', 'limits.cpu'), 'R=4'],
  ]
  for (const [name, res, env, want] of resourceCases) {
    it(`resourceFieldRef: ${name}`, () => {
      assert.deepEqual(envOf({ containers: [{ name: 'c', image: 'i:1', resources: res, env: [env] }] }), [want])
    })
  }

  it('resourceFieldRef names another container of the pod', () => {
    const plan = podPlan(ds({ containers: [{ name: 'a', image: 'i:1', env: [resource('B_MEM', 'limits.memory', '1Mi', 'b')] }, { name: 'b', image: 'i:1', resources: { limits: { memory: '64Mi' } } }] }), host)
    assert.deepEqual(plan.containers[0]?.create.Env, ['B_MEM=64'])
  })

  it('downwardAPI volume: files for labels, annotations, name, uid and a resource, with modes', () => {
    const d = ds(
      {
        volumes: [{ name: 'info', downwardAPI: { defaultMode: 0o440, items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } }, { path: 'meta/name', fieldRef: { fieldPath: 'metadata.name' } }, { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' }, mode: 0o400 }, { path: 'cpu', resourceFieldRef: { containerName: 'c', resource: 'limits.cpu', divisor: '1m' } }] } }],
        containers: [{ name: 'c', image: 'i:1', resources: { limits: { cpu: '250m' } }, volumeMounts: [{ name: 'info', mountPath: '/etc/podinfo' }] }],
      },
      { templateMeta: { labels: { app: 'agent', tier: 'node' }, annotations: { 'build': 'a "quoted" one' } } },
    )
    const plan = podPlan(d, host)
    assert.deepEqual(plan.unsupported, [])
    assert.deepEqual(plan.volumes, [
      {
        kind: 'files',
        name: 'info',
        dir: `${plan.pod}/info`,
        files: [
          { path: 'labels', content: 'app="agent"\ntier="node"', mode: 0o440 },
          { path: 'annotations', content: 'build="a \\"quoted\\" one"', mode: 0o440 },
          { path: 'meta/name', content: 'agent-n1', mode: 0o440 },
          { path: 'uid', content: plan.uid, mode: 0o400 },
          { path: 'cpu', content: '250', mode: 0o440 },
        ],
      },
    ])
    assert.deepEqual(plan.containers[0]?.create.HostConfig.Mounts, [{ Type: 'bind', Source: `${plan.pod}/info`, Target: '/etc/podinfo', ReadOnly: true }])
  })

  it('downwardAPI volume files take only metadata fields, as in Kubernetes; projected takes only downwardAPI sources', () => {
    const plan = podPlan(
      ds({
        volumes: [
          { name: 'a', downwardAPI: { items: [{ path: 'ip', fieldRef: { fieldPath: 'status.hostIP' } }] } },
          { name: 'p', projected: { sources: [{ downwardAPI: { items: [{ path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } }] } }, { serviceAccountToken: { path: 'token' } }] } },
        ],
      }),
      host,
    )
    assert.deepEqual(plan.unsupported.map((u) => u.path), ['spec.template.spec.volumes[0].downwardAPI.items[0].fieldRef', 'spec.template.spec.volumes[1].projected.sources[1].serviceAccountToken'])
    assert.deepEqual(plan.volumes[1], { kind: 'files', name: 'p', dir: `${plan.pod}/p`, files: [{ path: 'ns', content: 'default', mode: 0o644 }] })
  })

  it('formatMap sorts keys and quotes values, without a final newline', () => {
    assert.equal(formatMap({ b: '2', a: 'x\ny' }), 'a="x\\ny"\nb="2"')
    assert.equal(formatMap({}), '')
  })
})
