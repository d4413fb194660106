// The agent's root logger (pino, JSON lines on stdout). Components take a child:
// `log.child({ component: 'store' })`. Never spread untrusted objects into bindings.

import { pino, type Logger } from 'pino'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** createLogger returns the root logger for one agent. */
export function createLogger(level: LogLevel, node: string): Logger {
  return pino({ level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime })
}

/**
 * Throttle lets up to `burst` log lines through per `everyMs` (monotonic) and counts the
 * ones it held back: a peer that sends thousands of refused messages must not make the
 * agent write thousands of lines (stdout may be a pipe or journald, and a full one blocks
 * the process). The refusals are still counted in the metrics.
 */
export class Throttle {
  private at = -Infinity
  private passed = 0
  private held = 0
  private readonly everyMs: number
  private readonly burst: number

  constructor(everyMs: number, burst: number) {
    this.everyMs = everyMs
    this.burst = burst
  }

  /** pass returns undefined when the line is held back, else how many were held back since the last one passed. */
  pass(now: number): number | undefined {
    if (now - this.at >= this.everyMs) {
      this.at = now
      this.passed = 0
    }
    if (this.passed >= this.burst) {
      this.held++
      return undefined
    }
    this.passed++
    const held = this.held
    this.held = 0
    return held
  }
}
