// Output streams of the Docker runtime (ContainerStreams): a container's log, and a command
// run with its stdin and output attached (`daemonmesh logs`, `daemonmesh exec`). Opening a
// stream takes a limiter place; reading takes none.

import type Docker from 'dockerode'
import type { Logger } from 'pino'
import { demux } from './demux.js'
import { NotFoundError, type ContainerStreams, type ExecOptions, type LogOptions, type OutputChunk } from './runtime.js'

const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number }).statusCode

/** The largest output chunk logs and execAttached yield. */
const MAX_CHUNK_BYTES = 32 * 1024

/** Call runs a Docker call under the runtime's limiter and a deadline. */
type Call = <T>(what: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>

/** DockerStreams reads logs and runs attached commands for one DockerRuntime. */
export class DockerStreams implements ContainerStreams {
  constructor(
    private readonly docker: Docker,
    private readonly read: Call,
    private readonly write: Call,
    private readonly log: Logger,
  ) {}

  /**
   * logs streams a container's log (`docker logs`); --previous reads up to its last start,
   * which Docker's restart policy keeps in the same log. Opening it takes a limiter place;
   * reading takes none.
   */
  async *logs(name: string, opts: LogOptions, signal: AbortSignal): AsyncGenerator<OutputChunk> {
    const i = await this.read(`inspect ${name}`, (abortSignal) => this.docker.getContainer(name).inspect({ abortSignal })).catch((err: unknown) => {
      throw statusOf(err) === 404 ? new NotFoundError(`container ${name} not found`) : err
    })
    let until: number | undefined
    if (opts.previous) {
      if (i.RestartCount === 0) throw new NotFoundError(`previous terminated container in ${name} not found`)
      until = Math.floor(Date.parse(i.State.StartedAt) / 1000)
    }
    const options: Record<string, unknown> = {
      follow: opts.follow && !opts.previous,
      stdout: true,
      stderr: true,
      timestamps: opts.timestamps,
      ...(opts.tail === undefined ? {} : { tail: opts.tail }),
      ...(opts.sinceSeconds === undefined ? {} : { since: Math.floor(Date.now() / 1000) - opts.sinceSeconds }),
      ...(until === undefined ? {} : { until }),
    }
    // Through the modem, so that a log that is not followed still arrives as a stream (dockerode buffers it whole).
    const stream = await this.read(`logs ${name}`, (abortSignal) =>
      new Promise<NodeJS.ReadableStream>((resolve, reject) => {
        this.docker.modem.dial({ path: `/containers/${encodeURIComponent(name)}/logs?`, method: 'GET', isStream: true, abortSignal: AbortSignal.any([abortSignal, signal]), statusCodes: { 200: true, 404: 'no such container', 500: 'server error' }, options }, (err: unknown, data: unknown) => (err === null || err === undefined ? resolve(data as NodeJS.ReadableStream) : reject(err as Error)))
      }),
    )
    const stop = (): void => (stream as NodeJS.ReadableStream & { destroy(): void }).destroy()
    signal.addEventListener('abort', stop, { once: true })
    try {
      yield* demux(stream as AsyncIterable<Uint8Array>, i.Config.Tty, MAX_CHUNK_BYTES)
    } finally {
      signal.removeEventListener('abort', stop)
      stop()
    }
  }

  /** execAttached runs a command with stdin and output attached; resolves to its exit code. */
  async execAttached(name: string, cmd: readonly string[], opts: ExecOptions, onOutput: (chunk: OutputChunk) => Promise<void>, signal: AbortSignal): Promise<number> {
    const withStdin = opts.stdin !== undefined
    const exec = await this.write(`exec create in ${name}`, (abortSignal) =>
      this.docker.getContainer(name).exec({ Cmd: [...cmd], AttachStdin: withStdin, AttachStdout: true, AttachStderr: true, Tty: opts.tty, abortSignal }),
    ).catch((err: unknown) => {
      throw statusOf(err) === 404 ? new NotFoundError(`container ${name} not found`) : err
    })
    const stream = (await this.write(`exec start in ${name}`, (abortSignal) => exec.start({ hijack: true, stdin: withStdin, Tty: opts.tty, abortSignal }))) as NodeJS.ReadWriteStream & { destroy(): void; end(): void }
    const stop = (): void => stream.destroy()
    signal.addEventListener('abort', stop, { once: true })
    try {
      if (opts.stdin !== undefined) {
        const input = opts.stdin
        // Feeding stdin runs beside reading the output; its end half-closes the connection (the command sees EOF).
        void (async () => {
          for await (const b of input) if (!stream.write(b)) await new Promise((r) => stream.once('drain', r))
          stream.end()
        })().catch((err: unknown) => this.log.debug({ err }, 'exec stdin ended'))
      }
      for await (const chunk of demux(stream as unknown as AsyncIterable<Uint8Array>, opts.tty, MAX_CHUNK_BYTES)) await onOutput(chunk)
    } finally {
      signal.removeEventListener('abort', stop)
    }
    if (signal.aborted) throw new Error('exec aborted')
    const info = await this.read(`exec inspect in ${name}`, (abortSignal) => exec.inspect({ abortSignal }))
    return info.ExitCode ?? -1
  }
}
