// Kubernetes object shapes that daemonmesh reads. Only the parts we act on are typed;
// everything else passes through untouched (and unknown fields are reported as warnings
// by the manifest parser). No I/O here.

/** Labels and annotations: string to string. */
export type StringMap = Record<string, string>

export type IntOrString = number | string

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'

export interface LabelSelectorRequirement {
  key: string
  operator: SelectorOperator
  values?: string[]
}

export interface LabelSelector {
  matchLabels?: StringMap
  matchExpressions?: LabelSelectorRequirement[]
}

export type NodeSelectorOperator = SelectorOperator | 'Gt' | 'Lt'

export interface NodeSelectorRequirement {
  key: string
  operator: NodeSelectorOperator
  values?: string[]
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[]
  matchFields?: NodeSelectorRequirement[]
}

export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] }
  preferredDuringSchedulingIgnoredDuringExecution?: unknown[]
}

export interface Affinity {
  nodeAffinity?: NodeAffinity
  podAffinity?: unknown
  podAntiAffinity?: unknown
}

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute'

export interface Taint {
  key: string
  value?: string
  effect: TaintEffect
  timeAdded?: string
}

export interface Toleration {
  key?: string
  operator?: 'Exists' | 'Equal'
  value?: string
  effect?: TaintEffect | ''
  tolerationSeconds?: number
}

export interface ObjectFieldSelector {
  fieldPath: string
  apiVersion?: string
}

export interface ResourceFieldSelector {
  containerName?: string
  resource: string
  divisor?: IntOrString
}

export interface ConfigMapKeySelector {
  name: string
  key: string
  optional?: boolean
}

export interface EnvVar {
  name: string
  value?: string
  valueFrom?: {
    fieldRef?: ObjectFieldSelector
    resourceFieldRef?: ResourceFieldSelector
    configMapKeyRef?: ConfigMapKeySelector
    secretKeyRef?: ConfigMapKeySelector
    [source: string]: unknown
  }
}

export interface EnvFromSource {
  prefix?: string
  configMapRef?: { name: string; optional?: boolean }
  secretRef?: { name: string; optional?: boolean }
}

/** KeyToPath maps one key of a ConfigMap (or Secret) to a file of a volume. */
export interface KeyToPath {
  key: string
  path: string
  mode?: number
}

export interface ConfigMapVolumeSource {
  name: string
  items?: KeyToPath[]
  defaultMode?: number
  optional?: boolean
}

/** SecretVolumeSource is a secret volume: as a configMap volume, the Secret named by `secretName`. */
export interface SecretVolumeSource {
  secretName: string
  items?: KeyToPath[]
  defaultMode?: number
  optional?: boolean
}

/** DownwardAPIItem is one file of a downwardAPI volume. */
export interface DownwardAPIItem {
  path: string
  fieldRef?: ObjectFieldSelector
  resourceFieldRef?: ResourceFieldSelector
  mode?: number
}

export interface ContainerPort {
  name?: string
  containerPort: number
  hostPort?: number
  hostIP?: string
  protocol?: 'TCP' | 'UDP' | 'SCTP'
}

export interface ResourceRequirements {
  limits?: Record<string, IntOrString>
  requests?: Record<string, IntOrString>
}

export interface VolumeMount {
  name: string
  mountPath: string
  readOnly?: boolean
  subPath?: string
  mountPropagation?: string
}

export interface Capabilities {
  add?: string[]
  drop?: string[]
}

export interface SecurityContext {
  privileged?: boolean
  capabilities?: Capabilities
  runAsUser?: number
  runAsGroup?: number
  readOnlyRootFilesystem?: boolean
  allowPrivilegeEscalation?: boolean
  [field: string]: unknown
}

export interface Probe {
  exec?: { command: string[] }
  httpGet?: { path?: string; port: IntOrString; host?: string; scheme?: string; httpHeaders?: unknown }
  tcpSocket?: { port: IntOrString; host?: string }
  grpc?: unknown
  initialDelaySeconds?: number
  periodSeconds?: number
  timeoutSeconds?: number
  successThreshold?: number
  failureThreshold?: number
}

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never'

export interface Container {
  name: string
  image: string
  imagePullPolicy?: PullPolicy
  command?: string[]
  args?: string[]
  workingDir?: string
  env?: EnvVar[]
  envFrom?: EnvFromSource[]
  ports?: ContainerPort[]
  resources?: ResourceRequirements
  volumeMounts?: VolumeMount[]
  securityContext?: SecurityContext
  readinessProbe?: Probe
  livenessProbe?: Probe
  startupProbe?: Probe
  lifecycle?: unknown
  tty?: boolean
  stdin?: boolean
  [field: string]: unknown
}

export interface Volume {
  name: string
  hostPath?: { path: string; type?: string }
  emptyDir?: { medium?: string; sizeLimit?: IntOrString }
  downwardAPI?: { items?: DownwardAPIItem[]; defaultMode?: number }
  configMap?: ConfigMapVolumeSource
  secret?: SecretVolumeSource
  /** downwardAPI, configMap and secret sources are honoured (serviceAccountToken and the others are reported). */
  projected?: { sources?: ({ downwardAPI?: { items?: DownwardAPIItem[] }; configMap?: Omit<ConfigMapVolumeSource, 'defaultMode'>; secret?: Omit<ConfigMapVolumeSource, 'defaultMode'>; [source: string]: unknown })[]; defaultMode?: number }
  [source: string]: unknown
}

export interface PodSpec {
  containers: Container[]
  initContainers?: Container[]
  volumes?: Volume[]
  nodeSelector?: StringMap
  nodeName?: string
  affinity?: Affinity
  tolerations?: Toleration[]
  restartPolicy?: 'Always' | 'OnFailure' | 'Never'
  terminationGracePeriodSeconds?: number
  hostNetwork?: boolean
  hostPID?: boolean
  hostIPC?: boolean
  shareProcessNamespace?: boolean
  hostname?: string
  hostAliases?: { ip: string; hostnames: string[] }[]
  securityContext?: { runAsUser?: number; runAsGroup?: number; [field: string]: unknown }
  imagePullSecrets?: { name: string }[]
  [field: string]: unknown
}

export interface ObjectMeta {
  name: string
  namespace?: string
  labels?: StringMap
  annotations?: StringMap
  [field: string]: unknown
}

export interface PodTemplateSpec {
  metadata?: { labels?: StringMap; annotations?: StringMap; [field: string]: unknown }
  spec: PodSpec
}

export type UpdateStrategyType = 'RollingUpdate' | 'OnDelete'

export interface DaemonSetUpdateStrategy {
  type?: UpdateStrategyType
  rollingUpdate?: { maxUnavailable?: IntOrString; maxSurge?: IntOrString }
}

export interface DaemonSetSpec {
  selector?: LabelSelector | null
  template: PodTemplateSpec
  updateStrategy?: DaemonSetUpdateStrategy
  minReadySeconds?: number
  revisionHistoryLimit?: number
  templateGeneration?: number
}

export const DAEMONSET_API_VERSIONS = ['apps/v1', 'apps/v1beta2', 'extensions/v1beta1'] as const
export type DaemonSetApiVersion = (typeof DAEMONSET_API_VERSIONS)[number]

/** DaemonSet is a manifest after parsing; `spec` is defaulted once it leaves the parser. */
export interface DaemonSet {
  apiVersion: DaemonSetApiVersion
  kind: 'DaemonSet'
  metadata: ObjectMeta
  spec: DaemonSetSpec
}

export type ConditionStatus = 'True' | 'False' | 'Unknown'

export interface NodeCondition {
  type: string
  status: ConditionStatus
  reason?: string
  message?: string
  lastHeartbeatTime?: string
  lastTransitionTime?: string
}

/** NodeInfo is what placement needs to know about a host. */
export interface NodeInfo {
  name: string
  labels: StringMap
  taints: Taint[]
  unschedulable?: boolean
  conditions?: NodeCondition[]
  addresses?: { type: string; address: string }[]
  /** Cores and bytes of memory of the host (what a container without limits may use). */
  capacity?: { cpu: number; memory: number }
}
