// One time line of a timed verb: every agent's log lines (pino JSON, ms timestamps) and every
// dockerd's events inside a window, merged and shown relative to the moment the command ran.
// Membership's periodic chatter (probes, pings) is left out; everything the verb caused is
// kept. A benchmark helper (bench:fleet --trace).

import { readFile } from 'node:fs/promises'
import type { ContainerEvent } from './events.js'

/** Window is a timed verb: when its command ran and when each host was done (ms since the epoch). */
export interface Window {
  t0: number
  doneAt: number[]
}

const CHATTER = /probe|ping|suspect|refut|anti-entropy|dial/

interface Line {
  at: number
  who: string
  what: string
}

/** logLines returns the lines of pino logs with a time inside [from, to]. */
async function logLines(files: readonly string[], from: number, to: number): Promise<Line[]> {
  const out: Line[] = []
  for (const f of files) {
    for (const raw of (await readFile(f, 'utf8').catch(() => '')).split('\n')) {
      if (!raw.startsWith('{')) continue
      let j: Record<string, unknown>
      try {
        j = JSON.parse(raw) as Record<string, unknown>
      } catch {
        continue
      }
      const at = Date.parse(String(j.time))
      if (!(at >= from && at <= to) || CHATTER.test(String(j.msg))) continue
      const { time: _t, level: _l, node, component, msg, pid: _p, hostname: _h, ...rest } = j
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
      out.push({ at, who: `${String(node)} ${String(component ?? '')}`, what: `${String(msg)}${fields === '' ? '' : ` (${fields.slice(0, 200)})`}` })
    }
  }
  return out
}

/**
 * traceOf prints the verb's time line. For an apply it spans the command to the last host;
 * for a rolling update it spans one hand-over: the first host's new copy starting (its
 * readiness wait, its release) to the second host's new copy starting, a rolled host end to end.
 */
export async function traceOf(logs: readonly string[], events: readonly ContainerEvent[], v: Window, handOver = false): Promise<string> {
  const sorted = [...v.doneAt].sort((a, b) => a - b)
  const from = handOver ? (sorted[0] ?? v.t0) - 50 : v.t0 - 50
  const to = handOver ? (sorted[1] ?? v.t0) + 50 : (sorted.at(-1) ?? v.t0) + 50
  const lines = await logLines(logs, from, to)
  for (const e of events) if (e.at >= from && e.at <= to) lines.push({ at: e.at, who: `docker host-${e.host + 1}`, what: `${e.action} ${e.attrs.name ?? ''} ${e.attrs.image ?? ''}` })
  lines.sort((a, b) => a.at - b.at)
  const base = handOver ? (sorted[0] ?? v.t0) : v.t0
  return [`(ms from ${handOver ? "the first host's new copy starting" : 'the command'})`, ...lines.map((l) => `${(l.at - base).toFixed(0).padStart(6)}  ${l.who.padEnd(28)} ${l.what}`)].join('\n')
}
