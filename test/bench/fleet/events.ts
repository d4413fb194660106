// Docker's own record of what happened on each bench host: every container event (start,
// die, destroy, ...) of every host's dockerd, with dockerd's nanosecond timestamp. The hosts
// share the machine's clock, so events of different hosts compare directly, and watching
// costs nothing while a verb runs (no polling that would compete with what is measured).
// A benchmark helper, not a test.

import Docker from 'dockerode'

/** ContainerEvent is one container event of one host, at dockerd's time (ms since the epoch, fractional). */
export interface ContainerEvent {
  host: number
  action: string
  id: string
  /** The container's labels, plus `image` and `name` (Docker's event attributes). */
  attrs: Record<string, string>
  at: number
}

/** Selects says whether an event's container belongs to the workload being measured. */
export type Selects = (e: ContainerEvent) => boolean

/** EventLog subscribes to each host's dockerd and keeps every container event. */
export class EventLog {
  readonly events: ContainerEvent[] = []
  private readonly streams: NodeJS.ReadableStream[] = []

  /** watch subscribes to each socket (unix://PATH) in host order; resolves once all streams are open. */
  async watch(sockets: readonly string[]): Promise<void> {
    await Promise.all(
      sockets.map(async (sock, host) => {
        const d = new Docker({ socketPath: sock.replace(/^unix:\/\//, '') })
        const stream = (await d.getEvents({ filters: { type: ['container'] } })) as NodeJS.ReadableStream
        let buf = ''
        stream.on('data', (chunk: Buffer) => {
          buf += chunk.toString()
          let nl: number
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl)
            buf = buf.slice(nl + 1)
            if (line.trim() === '') continue
            const e = JSON.parse(line) as { Action: string; id?: string; Actor?: { ID: string; Attributes?: Record<string, string> }; timeNano: number }
            this.events.push({ host, action: e.Action, id: e.Actor?.ID ?? e.id ?? '', attrs: e.Actor?.Attributes ?? {}, at: e.timeNano / 1e6 })
          }
        })
        stream.on('error', () => undefined)
        this.streams.push(stream)
      }),
    )
  }

  /** since returns the selected events at or after `t0` (ms since the epoch), in time order. */
  since(t0: number, selects: Selects): ContainerEvent[] {
    return this.events.filter((e) => e.at >= t0 && selects(e)).sort((a, b) => a.at - b.at)
  }

  /** close ends every subscription. */
  close(): void {
    for (const s of this.streams) (s as unknown as { destroy?: () => void }).destroy?.()
  }
}

/** Timeline is what a verb did on each host, replayed from the events. */
export interface Timeline {
  /** When `done` first held on each host (undefined: not yet). */
  doneAt: (number | undefined)[]
  /** Most hosts at once with no selected container running. */
  maxDown: number
  /** Most selected containers running at once on one host. */
  maxPerHost: number
}

/**
 * timeline replays time-ordered events over `hosts` hosts that each ran `initial` selected
 * containers before the first event, and returns per host when `done(event)` first held,
 * with the most hosts at once running none and the most running on one host.
 */
export function timeline(events: readonly ContainerEvent[], hosts: number, initial: number, done: Selects): Timeline {
  const count = Array.from({ length: hosts }, () => initial)
  const doneAt: (number | undefined)[] = Array.from({ length: hosts }, () => undefined)
  let maxDown = initial === 0 ? hosts : 0
  let maxPerHost = initial
  for (const e of events) {
    if (e.action === 'start') count[e.host] = (count[e.host] ?? 0) + 1
    else if (e.action === 'die') count[e.host] = Math.max(0, (count[e.host] ?? 0) - 1)
    maxPerHost = Math.max(maxPerHost, ...count)
    maxDown = Math.max(maxDown, count.filter((c) => c === 0).length)
    if (doneAt[e.host] === undefined && done(e)) doneAt[e.host] = e.at
  }
  return { doneAt, maxDown, maxPerHost }
}
