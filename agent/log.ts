// The agent's root logger (pino, JSON lines on stdout). Components take a child:
// `log.child({ component: 'store' })`. Never spread untrusted objects into bindings.

import { pino, type Logger } from 'pino'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

/** createLogger returns the root logger for one agent. */
export function createLogger(level: LogLevel, node: string): Logger {
  return pino({ level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime })
}
