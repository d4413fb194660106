import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatIssue } from '../../../core/errors.js'
import { parseDaemonSet } from '../../../core/manifest.js'
import { rawDs } from '../../helpers/fixtures.js'

type Case = [name: string, obj: Record<string, unknown>, expected: string[]]

const c0 = (extra: Record<string, unknown>): Record<string, unknown> => ({ name: 'main', image: 'busybox:1', ...extra })

const cases: Case[] = [
  ['a container without image is rejected at its path', rawDs({ containers: [{ name: 'main' }] }), ['spec.template.spec.containers[0].image: required']],
  ['an empty image is required too', rawDs({ containers: [c0({ image: ' ' })] }), ['spec.template.spec.containers[0].image: required']],
  ['metadata.name is required', { ...rawDs(), metadata: {} }, ['metadata.name: required']],
  ['metadata.name must be a DNS-1123 subdomain', rawDs({}, { metadata: { name: 'My_DS' } }), ['metadata.name: Invalid value: "My_DS"']],
  ['namespace must be a DNS-1123 label', rawDs({}, { metadata: { namespace: 'kube.system' } }), ['metadata.namespace: Invalid value: "kube.system"']],
  ['container names are DNS-1123 labels', rawDs({ containers: [c0({ name: 'Main' })] }), ['spec.template.spec.containers[0].name: Invalid value: "Main"']],
  ['container names are unique', rawDs({ containers: [c0({}), c0({})] }), ['spec.template.spec.containers[1].name: Duplicate value: "main"']],
  ['at least one container', rawDs({ containers: [] }), ['spec.template.spec.containers: Required value']],
  ['restartPolicy must be Always', rawDs({ restartPolicy: 'Never' }), ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']],
  ['selector must match template labels', rawDs({}, { templateMeta: { labels: { app: 'other' } } }), ['spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not match template `labels`']],
  ['an empty selector is invalid for a DaemonSet', rawDs({}, { spec: { selector: {} } }), ['spec.selector: Invalid value: empty selector is invalid for daemonset']],
  ['selector In needs values', rawDs({}, { spec: { selector: { matchExpressions: [{ key: 'app', operator: 'In' }] } } }), ['spec.selector.matchExpressions[0].values: Required value']],
  ['selector Exists takes no values', rawDs({}, { spec: { selector: { matchExpressions: [{ key: 'app', operator: 'Exists', values: ['x'] }] } } }), ['spec.selector.matchExpressions[0].values: Forbidden']],
  ['selector operator must be known', rawDs({}, { spec: { selector: { matchExpressions: [{ key: 'app', operator: 'Gt', values: ['1'] }] } } }), ['spec.selector.matchExpressions[0].operator: Unsupported value: "Gt"']],
  ['containerPort in range', rawDs({ containers: [c0({ ports: [{ containerPort: 70000 }] })] }), ['spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535']],
  ['containerPort 0 is out of range', rawDs({ containers: [c0({ ports: [{ containerPort: 0 }] })] }), ['spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 0']],
  ['hostPort in range', rawDs({ containers: [c0({ ports: [{ containerPort: 80, hostPort: -1 }] })] }), ['spec.template.spec.containers[0].ports[0].hostPort: Invalid value: -1']],
  ['hostNetwork needs hostPort == containerPort', rawDs({ hostNetwork: true, containers: [c0({ ports: [{ containerPort: 80, hostPort: 8080 }] })] }), ['spec.template.spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort`']],
  ['a host port is used once per pod', rawDs({ containers: [c0({ ports: [{ containerPort: 80, hostPort: 80 }] }), c0({ name: 'b', ports: [{ containerPort: 81, hostPort: 80 }] })] }), ['spec.template.spec.containers[1].ports[0].hostPort: Duplicate value: "80/TCP"']],
  ['port protocol must be known', rawDs({ containers: [c0({ ports: [{ containerPort: 80, protocol: 'ICMP' }] })] }), ['spec.template.spec.containers[0].ports[0].protocol: Unsupported value: "ICMP"']],
  ['port must be an integer', rawDs({ containers: [c0({ ports: [{ containerPort: 80.5 }] })] }), ['spec.template.spec.containers[0].ports[0].containerPort: Invalid value: must be an integer']],
  ['quantities must parse', rawDs({ containers: [c0({ resources: { limits: { memory: '200MB' } } })] }), ['spec.template.spec.containers[0].resources.limits.memory: Invalid value: "200MB": quantities must match']],
  ['requests may not exceed limits', rawDs({ containers: [c0({ resources: { limits: { cpu: '100m' }, requests: { cpu: '0.2' } } })] }), ['spec.template.spec.containers[0].resources.requests: Invalid value: "0.2": must be less than or equal to cpu limit of 100m']],
  ['resource names must be known or qualified', rawDs({ containers: [c0({ resources: { limits: { gpu: 1 } } })] }), ['spec.template.spec.containers[0].resources.limits.gpu: Invalid value: "gpu"']],
  ['maxUnavailable and maxSurge may not both be zero', rawDs({}, { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '0%' } } } }), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0']],
  ['maxUnavailable must be int or percent', rawDs({}, { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 'half' } } } }), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "half": must be an integer or percentage']],
  ['maxSurge percent at most 100%', rawDs({}, { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '150%' } } } }), ['spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "150%": must not be greater than 100%']],
  ['maxUnavailable non-negative', rawDs({}, { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: -1 } } } }), ['spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0']],
  ['update strategy type must be known', rawDs({}, { spec: { updateStrategy: { type: 'Recreate' } } }), ['spec.updateStrategy.type: Unsupported value: "Recreate"']],
  ['OnDelete takes no rollingUpdate', rawDs({}, { spec: { updateStrategy: { type: 'OnDelete', rollingUpdate: { maxUnavailable: 1 } } } }), ['spec.updateStrategy.rollingUpdate: Forbidden']],
  ['minReadySeconds non-negative', rawDs({}, { spec: { minReadySeconds: -5 } }), ['spec.minReadySeconds: Invalid value: -5']],
  ['volume mounts must name a volume', rawDs({ containers: [c0({ volumeMounts: [{ name: 'logs', mountPath: '/var/log' }] })] }), ['spec.template.spec.containers[0].volumeMounts[0].name: Not found: "logs"']],
  ['a volume needs a source', rawDs({ volumes: [{ name: 'v' }] }), ['spec.template.spec.volumes[0]: Required value: must specify a volume type']],
  ['a volume has one source', rawDs({ volumes: [{ name: 'v', hostPath: { path: '/x' }, emptyDir: {} }] }), ['spec.template.spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type']],
  ['hostPath type must be one of Kubernetes\' types', rawDs({ volumes: [{ name: 'v', hostPath: { path: '/x', type: 'Fifo' } }] }), ['spec.template.spec.volumes[0].hostPath.type: Unsupported value: "Fifo"']],
  ['downwardAPI items: relative unique paths, one source, modes within 0777', rawDs({ volumes: [{ name: 'v', downwardAPI: { defaultMode: 0o1777, items: [{ path: '../x', fieldRef: { fieldPath: 'metadata.name' } }, { path: 'a', fieldRef: { fieldPath: 'metadata.name' } }, { path: 'a', fieldRef: { fieldPath: 'metadata.uid' } }, { path: 'b' }] } }] }), ['spec.template.spec.volumes[0].downwardAPI.defaultMode: Invalid value: 1023', 'spec.template.spec.volumes[0].downwardAPI.items[0].path: Invalid value: "../x"', 'spec.template.spec.volumes[0].downwardAPI.items[2].path: Duplicate value: "a"', 'spec.template.spec.volumes[0].downwardAPI.items[3]: Invalid value: must specify exactly one']],
  ['a downwardAPI volume\'s resourceFieldRef names its container, with a valid divisor', rawDs({ volumes: [{ name: 'v', downwardAPI: { items: [{ path: 'm', resourceFieldRef: { resource: 'limits.memory', divisor: '1m' } }] } }] }), ['spec.template.spec.volumes[0].downwardAPI.items[0].resourceFieldRef.containerName: required', 'spec.template.spec.volumes[0].downwardAPI.items[0].resourceFieldRef.divisor: Invalid value: "1m": not a valid divisor for limits.memory']],
  ['an env resourceFieldRef divisor must suit the resource', rawDs({ containers: [c0({ env: [{ name: 'C', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1Mi' } } }] })] }), ['spec.template.spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: Invalid value: "1Mi"']],
  ['configMap volume items: valid keys, relative paths, modes', rawDs({ volumes: [{ name: 'v', configMap: { name: 'c', defaultMode: 0o1000, items: [{ key: 'a/b', path: '/abs' }] } }] }), ['spec.template.spec.volumes[0].configMap.defaultMode: Invalid value: 512', 'spec.template.spec.volumes[0].configMap.items[0].key: Invalid value: "a/b"', 'spec.template.spec.volumes[0].configMap.items[0].path: Invalid value: "/abs"']],
  ['envFrom names one source; configMapKeyRef a valid key', rawDs({ containers: [c0({ envFrom: [{ prefix: 'A' }], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'c', key: '..' } } }] })] }), ['spec.template.spec.containers[0].envFrom[0]: Invalid value: must specify exactly one', 'spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.key: Invalid value: ".."']],
  ['hostPath must be absolute', rawDs({ volumes: [{ name: 'v', hostPath: { path: 'var/log' } }] }), ['spec.template.spec.volumes[0].hostPath.path: Invalid value: "var/log": must be an absolute path']],
  ['mount paths are unique in a container', rawDs({ volumes: [{ name: 'v', emptyDir: {} }], containers: [c0({ volumeMounts: [{ name: 'v', mountPath: '/a' }, { name: 'v', mountPath: '/a' }] })] }), ['spec.template.spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique']],
  ['toleration with empty key must be Exists', rawDs({ tolerations: [{ operator: 'Equal', value: 'x' }] }), ['spec.template.spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty']],
  ['toleration Exists takes no value', rawDs({ tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] }), ['spec.template.spec.tolerations[0].value: Invalid value: "v": value must be empty']],
  ['toleration effect must be known', rawDs({ tolerations: [{ key: 'k', effect: 'NoRun' }] }), ['spec.template.spec.tolerations[0].effect: Unsupported value: "NoRun"']],
  ['tolerationSeconds only with NoExecute', rawDs({ tolerations: [{ key: 'k', effect: 'NoSchedule', tolerationSeconds: 5 }] }), ['spec.template.spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\'']],
  ['nodeSelector labels must be valid', rawDs({ nodeSelector: { 'bad key!': 'x' } }), ['spec.template.spec.nodeSelector: Invalid value: "bad key!"']],
  ['node affinity needs at least one term', rawDs({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } } } }), ['spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value']],
  ['Gt needs one integer value', rawDs({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['many'] }] }] } } } }), ['spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified single value']],
  ['matchFields only on metadata.name', rawDs({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'spec.x', operator: 'In', values: ['a'] }] }] } } } }), ['spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key: Unsupported value: "spec.x"']],
  ['a probe needs exactly one handler', rawDs({ containers: [c0({ readinessProbe: { periodSeconds: 1 } })] }), ['spec.template.spec.containers[0].readinessProbe: Required value: must specify exactly one handler type']],
  ['env value and valueFrom are exclusive', rawDs({ containers: [c0({ env: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }] })] }), ['spec.template.spec.containers[0].env[0].valueFrom: Invalid value: may not be specified when `value` is not empty']],
  ['imagePullPolicy must be known', rawDs({ containers: [c0({ imagePullPolicy: 'Sometimes' })] }), ['spec.template.spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes"']],
  ['wrong types name the field', rawDs({ hostNetwork: 'yes' }), ['spec.template.spec.hostNetwork: Invalid value: expected boolean, got string']],
]

describe('validation', () => {
  for (const [name, obj, expected] of cases) {
    it(name, () => {
      const { errors, daemonSet } = parseDaemonSet(obj)
      assert.equal(daemonSet, undefined)
      const got = errors.map(formatIssue)
      for (const want of expected) assert.ok(got.some((g) => g.startsWith(want)), `want "${want}" in:\n${got.join('\n')}`)
      assert.equal(got.length, expected.length, `unexpected extra errors:\n${got.join('\n')}`)
    })
  }

  it('every problem is reported at once', () => {
    const obj = rawDs({ restartPolicy: 'OnFailure', containers: [{ name: 'a' }, { name: 'a', image: 'x', ports: [{ containerPort: 0 }] }] }, { metadata: { name: 'BAD' } })
    const got = parseDaemonSet(obj).errors.map((e) => e.path)
    assert.deepEqual(got.sort(), [
      'metadata.name',
      'spec.template.spec.containers[0].image',
      'spec.template.spec.containers[1].name',
      'spec.template.spec.containers[1].ports[0].containerPort',
      'spec.template.spec.restartPolicy',
    ])
  })

  const valid: [string, Record<string, unknown>][] = [
    ['int and percent strategy values', rawDs({}, { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 1 } } } })],
    ['maxSurge alone', rawDs({}, { spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '10%' } } } })],
    ['hostNetwork with matching hostPort', rawDs({ hostNetwork: true, containers: [c0({ ports: [{ containerPort: 9100, hostPort: 9100 }] })] })],
    ['same host port on TCP and UDP', rawDs({ containers: [c0({ ports: [{ containerPort: 53, hostPort: 53 }, { containerPort: 53, hostPort: 53, protocol: 'UDP' }] })] })],
    ['toleration matching every taint', rawDs({ tolerations: [{ operator: 'Exists' }] })],
    ['extended resources', rawDs({ containers: [c0({ resources: { limits: { 'nvidia.com/gpu': 1, 'hugepages-2Mi': '10Mi' } } })] })],
  ]
  for (const [name, obj] of valid) {
    it(`accepts ${name}`, () => {
      assert.deepEqual(parseDaemonSet(obj).errors, [])
    })
  }
})
