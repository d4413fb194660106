// DaemonSet YAML for tests that apply manifests through the CLI: one idle container of the
// test image, selected by `app: NAME`. Tests only.

import { TEST_IMAGE } from './docker.js'

export interface SleeperOptions {
  /** terminationGracePeriodSeconds (default 1). */
  grace?: number
  /** Pod-spec lines placed before `containers:`, already indented by six spaces, each ending in a newline. */
  podExtra?: string
  /** Container lines placed after its command, already indented by eight spaces, each ending in a newline. */
  containerExtra?: string
  image?: string
  /** The container's command as a YAML flow sequence (default `["sleep", "3600"]`); null leaves the image's own. */
  command?: string | null
  /** Labels of the DaemonSet itself, as a YAML flow map (e.g. `{team: infra}`). */
  labels?: string
}

/** sleeperYaml returns the YAML of DaemonSet NAME running one container (see SleeperOptions). */
export function sleeperYaml(name: string, o: SleeperOptions = {}): string {
  const command = o.command === undefined ? '["sleep", "3600"]' : o.command
  return `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}${o.labels === undefined ? '' : `, labels: ${o.labels}`}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: ${o.grace ?? 1}
${o.podExtra ?? ''}      containers:
      - name: main
        image: ${o.image ?? TEST_IMAGE}
${command === null ? '' : `        command: ${command}\n`}${o.containerExtra ?? ''}`
}
