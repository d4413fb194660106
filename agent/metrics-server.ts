// The Prometheus endpoint (`--metrics-addr HOST:PORT`, off by default): GET /metrics over
// plain HTTP, with the agent's own metrics and the fleet's kube-state-metrics series. It
// serves nothing else and reads no request body; it shows what any member of the cluster
// can already see (no secrets, no writes), so it has no token: bind it to an address only
// the scraper reaches.

import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'
import { splitHostPort } from '../core/address.js'

/** MetricsSource returns the exposition text, recomputed per scrape. */
export type MetricsSource = () => Promise<{ contentType: string; text: string }>

/** MAX_SCRAPES bounds concurrent scrapes (each recomputes the fleet's series). */
const MAX_SCRAPES = 4

export class MetricsServer {
  private readonly server: Server
  private readonly address: string
  private readonly log: Logger
  private busy = 0

  constructor(address: string, source: MetricsSource, log: Logger) {
    this.address = address
    this.log = log
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://agent').pathname
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n')
        return
      }
      if (this.busy >= MAX_SCRAPES) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('too many scrapes at once\n')
        return
      }
      this.busy++
      source()
        .then((m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.text))
        .catch((err: unknown) => {
          log.error({ err }, 'metrics scrape failed')
          res.writeHead(500, { 'content-type': 'text/plain' }).end('scrape failed\n')
        })
        .finally(() => this.busy--)
    })
    // Scrapers keep connections alive; a stuck one must not hold a socket for good.
    this.server.requestTimeout = 30_000
    this.server.headersTimeout = 10_000
  }

  /** listen binds HOST:PORT (IPv6 hosts in brackets). */
  async listen(): Promise<void> {
    const { host, port } = splitHostPort(this.address)
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => resolve())
    })
    this.log.info({ address: this.address }, 'metrics listening')
  }

  async close(): Promise<void> {
    if (!this.server.listening) return
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
