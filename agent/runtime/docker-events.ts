// Docker's event stream for the containers the agent manages on its node (the ones `list`
// lists): every event of one (probe execs aside) is a reason for a reconcile pass. Another
// node's containers on the same engine (tests run several agents on one dockerd) are none
// of its business. Reconnects until stopped. Used by docker.ts.

import type Docker from 'dockerode'
import { Labels } from '../../core/container-spec.js'
import { withDeadline } from './limiter.js'

export class DockerEvents {
  private readonly docker: Docker
  private readonly connectMs: number
  private events: NodeJS.ReadableStream | undefined
  private watching = false

  /** connectMs bounds connecting to the stream (the read deadline); the stream itself stays open until stop(). */
  constructor(docker: Docker, connectMs: number) {
    this.docker = docker
    this.connectMs = connectMs
  }

  /** watch calls onChange for every event of a container managed for `node` (probe execs aside); reconnects until stop(). */
  watch(node: string, onChange: () => void): void {
    this.watching = true
    const connect = (): void => {
      if (!this.watching) return
      withDeadline('docker events', this.connectMs, (abortSignal) => this.docker.getEvents({ filters: { type: ['container'], label: [`${Labels.node}=${node}`, Labels.daemonSet] }, abortSignal }))
        .then((stream) => {
          this.events = stream
          // Probe execs (exec_create/start/die) are events too: they change nothing we manage.
          stream.on('data', (chunk: Buffer) => {
            const actions = [...chunk.toString().matchAll(/"Action":"([^"]*)"/g)].map((m) => m[1] ?? '')
            if (actions.length === 0 || actions.some((a) => !a.startsWith('exec_'))) onChange()
          })
          stream.on('error', () => undefined)
          stream.on('end', () => {
            if (this.events === stream) setTimeout(connect, 1000)
          })
        })
        .catch(() => setTimeout(connect, 2000))
    }
    connect()
  }

  /** stop ends the stream and stops reconnecting. */
  stop(): void {
    this.watching = false
    const s = this.events
    this.events = undefined
    ;(s as unknown as { destroy?: () => void } | undefined)?.destroy?.()
  }
}
