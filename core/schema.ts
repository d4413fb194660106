// Structural schemas (zod) for the Kubernetes objects daemonmesh reads. They check types
// and required fields and list every field Kubernetes defines, so a field outside the
// schema is reported as unknown (a warning, as `kubectl apply` warns). Semantic rules
// live in validate.ts. No I/O here.

import { z } from 'zod'

const str = z.string()
const int = z.number().int()
const bool = z.boolean()
const any = z.unknown()
const stringMap = z.record(z.string(), z.string())
const intOrString = z.union([int, str])
const quantity = z.union([z.number(), z.string()])

const labelSelectorRequirement = z
  .object({ key: str, operator: str, values: z.array(str).optional() })
  .strict()

export const labelSelectorSchema = z
  .object({ matchLabels: stringMap.optional(), matchExpressions: z.array(labelSelectorRequirement).optional() })
  .strict()

const nodeSelectorRequirement = z.object({ key: str, operator: str, values: z.array(str).optional() }).strict()
const nodeSelectorTerm = z
  .object({ matchExpressions: z.array(nodeSelectorRequirement).optional(), matchFields: z.array(nodeSelectorRequirement).optional() })
  .strict()

const affinity = z
  .object({
    nodeAffinity: z
      .object({
        requiredDuringSchedulingIgnoredDuringExecution: z.object({ nodeSelectorTerms: z.array(nodeSelectorTerm) }).strict().optional(),
        preferredDuringSchedulingIgnoredDuringExecution: z.array(any).optional(),
      })
      .strict()
      .optional(),
    podAffinity: any,
    podAntiAffinity: any,
  })
  .strict()

const toleration = z
  .object({ key: str.optional(), operator: str.optional(), value: str.optional(), effect: str.optional(), tolerationSeconds: int.optional() })
  .strict()

export const taintSchema = z.object({ key: str, value: str.optional(), effect: str, timeAdded: any }).strict()

const fieldRef = z.object({ fieldPath: str, apiVersion: str.optional() }).strict()
const resourceFieldRef = z.object({ containerName: str.optional(), resource: str, divisor: quantity.optional() }).strict()

const envVar = z
  .object({
    name: str,
    value: str.optional(),
    valueFrom: z
      .object({
        fieldRef: fieldRef.optional(),
        resourceFieldRef: resourceFieldRef.optional(),
        configMapKeyRef: z.object({ name: str, key: str, optional: bool.optional() }).strict().optional(),
        secretKeyRef: z.object({ name: str, key: str, optional: bool.optional() }).strict().optional(),
        fileKeyRef: any,
      })
      .strict()
      .optional(),
  })
  .strict()

const containerPort = z
  .object({ name: str.optional(), containerPort: int, hostPort: int.optional(), hostIP: str.optional(), protocol: str.optional() })
  .strict()

const resources = z
  .object({ limits: z.record(z.string(), quantity).optional(), requests: z.record(z.string(), quantity).optional(), claims: any })
  .strict()

const volumeMount = z
  .object({
    name: str,
    mountPath: str,
    readOnly: bool.optional(),
    recursiveReadOnly: any,
    subPath: str.optional(),
    subPathExpr: any,
    mountPropagation: str.optional(),
  })
  .strict()

const securityContext = z
  .object({
    privileged: bool.optional(),
    capabilities: z.object({ add: z.array(str).optional(), drop: z.array(str).optional() }).strict().optional(),
    runAsUser: int.optional(),
    runAsGroup: int.optional(),
    runAsNonRoot: bool.optional(),
    readOnlyRootFilesystem: bool.optional(),
    allowPrivilegeEscalation: bool.optional(),
    procMount: any,
    seLinuxOptions: any,
    seccompProfile: any,
    appArmorProfile: any,
    windowsOptions: any,
  })
  .strict()

const probe = z
  .object({
    exec: z.object({ command: z.array(str) }).strict().optional(),
    httpGet: z
      .object({ path: str.optional(), port: intOrString, host: str.optional(), scheme: str.optional(), httpHeaders: any })
      .strict()
      .optional(),
    tcpSocket: z.object({ port: intOrString, host: str.optional() }).strict().optional(),
    grpc: any,
    initialDelaySeconds: int.optional(),
    periodSeconds: int.optional(),
    timeoutSeconds: int.optional(),
    successThreshold: int.optional(),
    failureThreshold: int.optional(),
    terminationGracePeriodSeconds: any,
  })
  .strict()

export const containerSchema = z
  .object({
    name: str,
    image: str,
    imagePullPolicy: str.optional(),
    command: z.array(str).optional(),
    args: z.array(str).optional(),
    workingDir: str.optional(),
    env: z.array(envVar).optional(),
    envFrom: z.array(z.object({ prefix: str.optional(), configMapRef: z.object({ name: str, optional: bool.optional() }).strict().optional(), secretRef: z.object({ name: str, optional: bool.optional() }).strict().optional() }).strict()).optional(),
    ports: z.array(containerPort).optional(),
    resources: resources.optional(),
    resizePolicy: any,
    restartPolicy: any,
    volumeMounts: z.array(volumeMount).optional(),
    volumeDevices: any,
    securityContext: securityContext.optional(),
    readinessProbe: probe.optional(),
    livenessProbe: probe.optional(),
    startupProbe: probe.optional(),
    lifecycle: any,
    terminationMessagePath: str.optional(),
    terminationMessagePolicy: str.optional(),
    tty: bool.optional(),
    stdin: bool.optional(),
    stdinOnce: bool.optional(),
  })
  .strict()

const downwardAPIItem = z.object({ path: str, fieldRef: fieldRef.optional(), resourceFieldRef: resourceFieldRef.optional(), mode: int.optional() }).strict()

const keyToPath = z.object({ key: str, path: str, mode: int.optional() }).strict()
const configMapProjection = z.object({ name: str, items: z.array(keyToPath).optional(), optional: bool.optional() }).strict()

const projectionSource = z
  .object({
    downwardAPI: z.object({ items: z.array(downwardAPIItem).optional() }).strict().optional(),
    configMap: configMapProjection.optional(),
    secret: configMapProjection.optional(),
    serviceAccountToken: any,
    clusterTrustBundle: any,
    podCertificate: any,
  })
  .strict()

const volume = z
  .object({
    name: str,
    hostPath: z.object({ path: str, type: str.optional() }).strict().optional(),
    emptyDir: z.object({ medium: str.optional(), sizeLimit: quantity.optional() }).strict().optional(),
    downwardAPI: z.object({ items: z.array(downwardAPIItem).optional(), defaultMode: int.optional() }).strict().optional(),
    configMap: configMapProjection.extend({ defaultMode: int.optional() }).strict().optional(),
    secret: z.object({ secretName: str, items: z.array(keyToPath).optional(), defaultMode: int.optional(), optional: bool.optional() }).strict().optional(),
    projected: z.object({ sources: z.array(projectionSource).optional(), defaultMode: int.optional() }).strict().optional(),
  })
  .passthrough()

const podSecurityContext = z
  .object({
    runAsUser: int.optional(),
    runAsGroup: int.optional(),
    runAsNonRoot: bool.optional(),
    fsGroup: any,
    fsGroupChangePolicy: any,
    supplementalGroups: any,
    supplementalGroupsPolicy: any,
    seLinuxOptions: any,
    seLinuxChangePolicy: any,
    seccompProfile: any,
    appArmorProfile: any,
    sysctls: any,
    windowsOptions: any,
  })
  .strict()

export const podSpecSchema = z
  .object({
    containers: z.array(containerSchema),
    initContainers: z.array(containerSchema).optional(),
    ephemeralContainers: any,
    volumes: z.array(volume).optional(),
    nodeSelector: stringMap.optional(),
    nodeName: str.optional(),
    affinity: affinity.optional(),
    tolerations: z.array(toleration).optional(),
    restartPolicy: str.optional(),
    terminationGracePeriodSeconds: int.optional(),
    activeDeadlineSeconds: any,
    hostNetwork: bool.optional(),
    hostPID: bool.optional(),
    hostIPC: bool.optional(),
    hostUsers: any,
    shareProcessNamespace: bool.optional(),
    hostname: str.optional(),
    subdomain: any,
    setHostnameAsFQDN: any,
    hostAliases: z.array(z.object({ ip: str, hostnames: z.array(str) }).strict()).optional(),
    securityContext: podSecurityContext.optional(),
    dnsPolicy: str.optional(),
    dnsConfig: any,
    enableServiceLinks: any,
    serviceAccount: any,
    serviceAccountName: any,
    automountServiceAccountToken: any,
    imagePullSecrets: z.array(z.object({ name: str }).strict()).optional(),
    priority: any,
    priorityClassName: any,
    preemptionPolicy: any,
    readinessGates: any,
    runtimeClassName: any,
    schedulerName: any,
    schedulingGates: any,
    topologySpreadConstraints: any,
    overhead: any,
    os: any,
    resourceClaims: any,
    resources: any,
  })
  .strict()

export const objectMetaSchema = z
  .object({
    name: str,
    namespace: str.optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
    generateName: any,
    uid: any,
    resourceVersion: any,
    generation: any,
    creationTimestamp: any,
    deletionTimestamp: any,
    deletionGracePeriodSeconds: any,
    ownerReferences: any,
    finalizers: any,
    managedFields: any,
    selfLink: any,
  })
  .strict()

const templateMeta = objectMetaSchema.extend({ name: str.optional() }).strict()

export const daemonSetSchema = z
  .object({
    apiVersion: str,
    kind: z.literal('DaemonSet'),
    metadata: objectMetaSchema,
    spec: z
      .object({
        selector: labelSelectorSchema.nullable().optional(),
        template: z.object({ metadata: templateMeta.optional(), spec: podSpecSchema }).strict(),
        updateStrategy: z
          .object({
            type: str.optional(),
            rollingUpdate: z.object({ maxUnavailable: intOrString.optional(), maxSurge: intOrString.optional() }).strict().optional(),
          })
          .strict()
          .optional(),
        minReadySeconds: int.optional(),
        revisionHistoryLimit: int.optional(),
        templateGeneration: int.optional(),
      })
      .strict(),
    status: any,
  })
  .strict()

export const nodeSchema = z
  .object({
    apiVersion: str.optional(),
    kind: z.literal('Node'),
    metadata: objectMetaSchema,
    spec: z
      .object({
        taints: z.array(taintSchema).optional(),
        unschedulable: bool.optional(),
        podCIDR: any,
        podCIDRs: any,
        providerID: any,
        configSource: any,
        externalID: any,
      })
      .strict()
      .optional(),
    status: z
      .object({
        conditions: z
          .array(z.object({ type: str, status: str, reason: any, message: any, lastHeartbeatTime: any, lastTransitionTime: any }).strict())
          .optional(),
        addresses: z.array(z.object({ type: str, address: str }).strict()).optional(),
      })
      .passthrough()
      .optional(),
  })
  .strict()
