// CLI exit codes and the error that carries one. Stable: scripts rely on them.

export const ExitCode = { ok: 0, error: 1, usage: 2 } as const

/** CliError is thrown for a failure to report as one line, with its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError'
  readonly exitCode: number

  constructor(message: string, exitCode: number = ExitCode.error) {
    super(message)
    this.exitCode = exitCode
  }
}

/** UsageError is thrown for a bad flag or argument (exit code 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage)
  }
}
