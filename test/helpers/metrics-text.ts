// An agent's Prometheus exposition (/metrics, text, not JSON) and one sample of it. Tests only.

import { request } from 'node:http'
import { reach, type AgentTarget } from '../../cli/client.js'

/** metricsText reads an agent's /metrics. */
export async function metricsText(target: AgentTarget): Promise<string> {
  const where = await reach(target)
  return new Promise((resolve, reject) => {
    const req = request({ ...where, method: 'GET', path: '/metrics' }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    })
    req.on('error', reject)
    req.end()
  })
}

/** sample returns the value of metric `name` (with exactly `labels`, as written, when given: `carriage="link"`), NaN when absent. */
export function sample(text: string, name: string, labels?: string): number {
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const re = labels === undefined ? new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm') : new RegExp(`^${name}\\{${esc(labels)}\\} (\\S+)$`, 'm')
  return Number(re.exec(text)?.[1] ?? NaN)
}
