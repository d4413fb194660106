import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { expandVars, podPlan } from '../../../core/container-spec.js'
import { loadDaemonSets } from '../../../core/manifest.js'
import { revisionOf } from '../../../core/revision.js'
import { ds, node, seedFiles } from '../../helpers/fixtures.js'

const seed = (prefix: string) => {
  const s = seedFiles().find((f) => f.name.startsWith(prefix))
  assert.ok(s)
  const [d] = loadDaemonSets(s.text, s.name)
  assert.ok(d)
  return d
}

describe('container spec', () => {
  it('seed 000: image, resources, read-only and read-write hostPath mounts, stop timeout, labels', () => {
    const d = seed('seed000')
    const plan = podPlan(d, node('n1'))
    assert.deepEqual(plan.unsupported, [])
    assert.equal(plan.containers.length, 1)
    const c = plan.containers[0]?.create
    assert.ok(c)
    assert.equal(c.Image, 'gcr.io/google-containers/fluentd-elasticsearch:1.20')
    assert.equal(c.name, `dm_kube-system_fluentd-elasticsearch_fluentd-elasticsearch_${revisionOf(d)}_n1`)
    assert.equal(c.HostConfig.Memory, 200 * 2 ** 20)
    assert.equal(c.HostConfig.MemoryReservation, 200 * 2 ** 20)
    assert.equal(c.HostConfig.CpuShares, 102)
    assert.equal(c.HostConfig.NanoCpus, undefined)
    assert.deepEqual(c.HostConfig.Mounts, [
      { Type: 'bind', Source: '/var/log', Target: '/var/log', ReadOnly: false },
      { Type: 'bind', Source: '/var/lib/docker/containers', Target: '/var/lib/docker/containers', ReadOnly: true },
    ])
    assert.deepEqual(plan.volumes.map((v) => v.kind === 'hostPath' && `${v.path} type "${v.type}"`), ['/var/log type ""', '/var/lib/docker/containers type ""'])
    assert.equal(c.StopTimeout, 30)
    assert.deepEqual(c.HostConfig.RestartPolicy, { Name: 'always' })
    assert.equal(c.Labels['daemonmesh.io/daemonset'], 'kube-system.fluentd-elasticsearch')
    assert.equal(c.Labels['daemonmesh.io/node'], 'n1')
    assert.equal(c.Labels['daemonmesh.io/revision'], revisionOf(d))
    assert.equal(c.Labels.name, 'fluentd-elasticsearch')
    assert.equal(plan.containers[0]?.pullPolicy, 'IfNotPresent')
  })

  it('seed 004: hostNetwork, hostPID, hostIPC, privileged, args, cpu request', () => {
    const plan = podPlan(seed('seed004'), node('n1'))
    assert.deepEqual(plan.unsupported, [])
    const c = plan.containers[0]?.create
    assert.ok(c)
    assert.equal(c.HostConfig.NetworkMode, 'host')
    assert.equal(c.HostConfig.PidMode, 'host')
    assert.equal(c.HostConfig.IpcMode, 'host')
    assert.equal(c.HostConfig.Privileged, true)
    assert.equal(c.HostConfig.CpuShares, 154)
    assert.equal(c.Entrypoint, undefined)
    assert.deepEqual(c.Cmd, ['--path.procfs', '/host/proc', '--path.sysfs', '/host/sys', '--collector.filesystem.ignored-mount-points', '"^/(sys|proc|dev|host|etc)($|/)"'])
    assert.equal(c.ExposedPorts, undefined, 'no port mapping with host networking')
    assert.deepEqual(c.HostConfig.Mounts?.map((m) => `${m.Source}:${m.Target}`), ['/dev:/host/dev', '/proc:/host/proc', '/sys:/host/sys', '/:/rootfs'])
  })

  it('seed 002: env values', () => {
    const c = podPlan(seed('seed002'), node('n1')).containers[0]?.create
    assert.deepEqual(c?.Env, ['REDIS_HOST=redis.default.svc.cluster.local', 'REDIS_LOG_LEVEL=info'])
    assert.equal(podPlan(seed('seed002'), node('n1')).containers[0]?.pullPolicy, 'IfNotPresent')
  })

  it('command becomes the entrypoint and args the cmd, with $(VAR) expansion', () => {
    const d = ds({ containers: [{ name: 'c', image: 'i:1', command: ['sh', '-c'], args: ['echo $(GREETING) $(MISSING) $$(ESCAPED)'], env: [{ name: 'NAME', value: 'world' }, { name: 'GREETING', value: 'hello $(NAME)' }] }] })
    const c = podPlan(d, node('n1')).containers[0]?.create
    assert.deepEqual(c?.Entrypoint, ['sh', '-c'])
    assert.deepEqual(c?.Cmd, ['echo hello world $(MISSING) $(ESCAPED)'])
    assert.deepEqual(c?.Env, ['NAME=world', 'GREETING=hello world'])
  })

  it('fieldRef resolves node name, pod name, namespace and host IP', () => {
    const env = ['spec.nodeName', 'metadata.name', 'metadata.namespace', 'status.hostIP', "metadata.labels['app']"].map((fieldPath, i) => ({ name: `V${i}`, valueFrom: { fieldRef: { fieldPath } } }))
    const plan = podPlan(ds({ containers: [{ name: 'c', image: 'i:1', env }] }), { name: 'n1', labels: {}, taints: [], addresses: [{ type: 'InternalIP', address: '10.0.0.5' }] })
    assert.deepEqual(plan.containers[0]?.create.Env, ['V0=n1', 'V1=agent-n1', 'V2=default', 'V3=10.0.0.5', 'V4=agent'])
    assert.deepEqual(plan.unsupported, [])
  })

  it('ports and hostPort are published; limits.cpu becomes NanoCpus', () => {
    const d = ds({ containers: [{ name: 'c', image: 'i:1', ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 53, protocol: 'UDP' }], resources: { limits: { cpu: '500m', memory: '1Gi' } } }] })
    const c = podPlan(d, node('n1')).containers[0]?.create
    assert.deepEqual(c?.ExposedPorts, { '80/tcp': {}, '53/udp': {} })
    assert.deepEqual(c?.HostConfig.PortBindings, { '80/tcp': [{ HostIp: '', HostPort: '8080' }] })
    assert.equal(c?.HostConfig.NanoCpus, 5e8)
    assert.equal(c?.HostConfig.CpuShares, 512, 'requests default to limits')
    assert.equal(c?.HostConfig.Memory, 2 ** 30)
  })

  it('containers of one pod share the first container\'s network and IPC namespaces', () => {
    const d = ds({ containers: [{ name: 'a', image: 'i:1', ports: [{ containerPort: 80, hostPort: 80 }] }, { name: 'b', image: 'i:1', ports: [{ containerPort: 81, hostPort: 81 }] }] })
    const [a, b] = podPlan(d, node('n1')).containers.map((c) => c.create)
    assert.ok(a && b)
    assert.equal(a.HostConfig.NetworkMode, undefined)
    assert.equal(a.HostConfig.IpcMode, 'shareable')
    assert.equal(b.HostConfig.NetworkMode, `container:${a.name}`)
    assert.equal(b.HostConfig.IpcMode, `container:${a.name}`)
    assert.deepEqual(Object.keys(a.HostConfig.PortBindings ?? {}), ['80/tcp', '81/tcp'])
    assert.equal(b.HostConfig.PortBindings, undefined)
    assert.equal(b.Labels['daemonmesh.io/pod-owner'], a.name)
  })

  it('security context: capabilities, user, read-only root, no-new-privileges', () => {
    const d = ds({ securityContext: { runAsUser: 1000 }, containers: [{ name: 'c', image: 'i:1', securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, runAsGroup: 10, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false } }] })
    const c = podPlan(d, node('n1')).containers[0]?.create
    assert.deepEqual(c?.HostConfig.CapAdd, ['NET_ADMIN'])
    assert.deepEqual(c?.HostConfig.CapDrop, ['ALL'])
    assert.equal(c?.User, '1000:10')
    assert.equal(c?.HostConfig.ReadonlyRootfs, true)
    assert.deepEqual(c?.HostConfig.SecurityOpt, ['no-new-privileges'])
  })

  it('an emptyDir is a directory of the pod, new for each revision; subPaths are created in it', () => {
    const d = ds({ volumes: [{ name: 'scratch', emptyDir: {} }], containers: [{ name: 'a', image: 'i:1', volumeMounts: [{ name: 'scratch', mountPath: '/s' }] }, { name: 'b', image: 'i:1', volumeMounts: [{ name: 'scratch', mountPath: '/t', readOnly: true, subPath: 'b/logs' }] }] })
    const plan = podPlan(d, node('n1'))
    const pod = `dm_default_agent_${revisionOf(d)}_n1`
    assert.equal(plan.pod, pod)
    assert.deepEqual(plan.volumes, [{ kind: 'emptyDir', name: 'scratch', dir: `${pod}/scratch`, subPaths: ['b/logs'] }])
    assert.deepEqual(plan.containers[0]?.create.HostConfig.Mounts, [{ Type: 'bind', Source: `${pod}/scratch`, Target: '/s', ReadOnly: false }])
    assert.deepEqual(plan.containers[1]?.create.HostConfig.Mounts, [{ Type: 'bind', Source: `${pod}/scratch/b/logs`, Target: '/t', ReadOnly: true }])
    assert.equal(plan.containers[1]?.create.Labels['daemonmesh.io/pod'], pod)
    const next = ds({ ...d.spec.template.spec, terminationGracePeriodSeconds: 5 })
    assert.notEqual(podPlan(next, node('n1')).pod, pod, 'a new revision is a new pod with new volumes')
  })

  it('an emptyDir in memory is one tmpfs volume that every container of the pod mounts, sized by sizeLimit', () => {
    const d = ds({ volumes: [{ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } }], containers: [{ name: 'a', image: 'i:1', volumeMounts: [{ name: 'shm', mountPath: '/shm' }] }, { name: 'b', image: 'i:1', volumeMounts: [{ name: 'shm', mountPath: '/dev/shm' }] }] })
    const plan = podPlan(d, node('n1'))
    const volume = `${plan.pod}_shm`
    assert.deepEqual(plan.volumes, [{ kind: 'tmpfs', name: 'shm', volume, sizeBytes: 64 * 2 ** 20 }])
    assert.deepEqual(plan.containers.map((c) => c.create.HostConfig.Mounts), [
      [{ Type: 'volume', Source: volume, Target: '/shm', ReadOnly: false, VolumeOptions: { NoCopy: true } }],
      [{ Type: 'volume', Source: volume, Target: '/dev/shm', ReadOnly: false, VolumeOptions: { NoCopy: true } }],
    ])
    assert.deepEqual(plan.unsupported, [])
  })

  it('a sizeLimit on a disk emptyDir is reported: Docker cannot enforce it', () => {
    const plan = podPlan(ds({ volumes: [{ name: 'v', emptyDir: { sizeLimit: '1Gi' } }] }), node('n1'))
    assert.deepEqual(plan.unsupported, [{ path: 'spec.template.spec.volumes[0].emptyDir.sizeLimit', message: 'not enforced on disk (only with medium: Memory, as the tmpfs size)' }])
  })

  it('hostPath volumes carry their type for the runtime to check or create, and the subPaths mounted from them', () => {
    const d = ds({
      volumes: [{ name: 'lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } }, { name: 'lib', hostPath: { path: '/var/lib/calico', type: 'DirectoryOrCreate' } }],
      containers: [{ name: 'a', image: 'i:1', volumeMounts: [{ name: 'lock', mountPath: '/run/xtables.lock' }, { name: 'lib', mountPath: '/data', subPath: 'node' }] }],
    })
    const plan = podPlan(d, node('n1'))
    assert.deepEqual(plan.volumes, [
      { kind: 'hostPath', name: 'lock', path: '/run/xtables.lock', type: 'FileOrCreate', subPaths: [] },
      { kind: 'hostPath', name: 'lib', path: '/var/lib/calico', type: 'DirectoryOrCreate', subPaths: ['node'] },
    ])
    assert.deepEqual(plan.containers[0]?.create.HostConfig.Mounts?.map((m) => `${m.Source}:${m.Target}`), ['/run/xtables.lock:/run/xtables.lock', '/var/lib/calico/node:/data'])
    assert.deepEqual(plan.unsupported, [])
  })

  it('hostPath of a type that must exist uses a bind mount that fails when missing', () => {
    const d = ds({ volumes: [{ name: 'sock', hostPath: { path: '/var/run/docker.sock', type: 'Socket' } }], containers: [{ name: 'a', image: 'i:1', volumeMounts: [{ name: 'sock', mountPath: '/var/run/docker.sock', mountPropagation: 'HostToContainer' }] }] })
    const c = podPlan(d, node('n1')).containers[0]?.create
    assert.deepEqual(c?.HostConfig.Mounts, [{ Type: 'bind', Source: '/var/run/docker.sock', Target: '/var/run/docker.sock', ReadOnly: false, BindOptions: { Propagation: 'rslave' } }])
  })

  it('fields that cannot be honoured are reported with their paths', () => {
    const d = ds({
      serviceAccountName: 'sa',
      initContainers: [{ name: 'init', image: 'i:1' }],
      volumes: [{ name: 'cfg', configMap: { name: 'x' } }],
      containers: [{ name: 'c', image: 'i:1', stdinOnce: true, envFrom: [], resources: { limits: { 'nvidia.com/gpu': 1 } }, env: [{ name: 'S', valueFrom: { fileKeyRef: { path: 'k' } } }] }],
    })
    const paths = podPlan(d, node('n1')).unsupported.map((u) => u.path).sort()
    assert.deepEqual(paths, [
      'spec.template.spec.containers[0].env[0].valueFrom.fileKeyRef',
      'spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"]',
      'spec.template.spec.containers[0].stdinOnce',
      'spec.template.spec.serviceAccountName',
    ])
  })

  it('init containers: run-to-completion bodies without the DaemonSet label, on the pod\'s volumes, in the host\'s namespaces when the pod is', () => {
    const d = ds({
      hostNetwork: true,
      initContainers: [{ name: 'install', image: 'i:1', volumeMounts: [{ name: 'cni', mountPath: '/host/opt/cni' }], livenessProbe: { exec: { command: ['true'] } } }],
      volumes: [{ name: 'cni', hostPath: { path: '/opt/cni' } }],
      containers: [{ name: 'c', image: 'i:1' }],
    })
    const plan = podPlan(d, node('n1'))
    const init = plan.init[0]?.create
    assert.equal(init?.name, `dmi_default_${d.metadata.name}_install_${plan.revision}_n1`)
    assert.deepEqual(init?.HostConfig.RestartPolicy, { Name: 'no' })
    assert.equal(init?.HostConfig.NetworkMode, 'host')
    assert.equal(init?.Labels['daemonmesh.io/daemonset'], undefined)
    assert.equal(init?.Labels['daemonmesh.io/init-of'], plan.daemonSet)
    assert.equal(init?.HostConfig.Mounts?.[0]?.Target, '/host/opt/cni')
    assert.deepEqual(plan.unsupported.map((u) => u.path), ['spec.template.spec.initContainers[0].livenessProbe'])
    const bridged = podPlan(ds({ initContainers: [{ name: 'i', image: 'i:1' }], containers: [{ name: 'c', image: 'i:1' }] }), node('n1'))
    assert.equal(bridged.init[0]?.create.HostConfig.NetworkMode, undefined, 'its own network namespace: the pod\'s owner does not run yet')
  })

  it('names are deterministic per DaemonSet, revision and node', () => {
    const d = ds()
    assert.equal(podPlan(d, node('n1')).containers[0]?.create.name, podPlan(d, node('n1')).containers[0]?.create.name)
    assert.notEqual(podPlan(d, node('n1')).containers[0]?.create.name, podPlan(d, node('n2')).containers[0]?.create.name)
  })

  it('expandVars leaves unknown references and unterminated ones alone', () => {
    assert.equal(expandVars('$(A) $(B) $(A', (n) => (n === 'A' ? 'x' : undefined)), 'x $(B) $(A')
  })
})
