// A test entry point for the agent: the real agent (real libp2p, level, Docker), built
// through its seams with what a test needs to provoke, all set by the spawning test:
//  - DAEMONMESH_TEST_CLOCK_OFFSET_MS: this agent's wall clock runs that far ahead (the
//    kernel clock is shared by every namespace host, so skew is injected as a Clock);
//  - DAEMONMESH_TEST_IMAGE_CHECK_DELAY_MS with DAEMONMESH_TEST_DELAY_DAEMONSET (NS.NAME): the
//    local image check of that DaemonSet's updates takes that much longer (a slow holder: an
//    update under a slot checks its images between the grant and the fence check);
//  - DAEMONMESH_TEST_TIMINGS: JSON overrides of internal timings (agent/defaults.ts), e.g.
//    `{"runtime":{"stopMarginMs":3000}}` so that a hung stop is given up on sooner;
//  - a control socket, DATADIR/control.sock: `POST /refuse {"peers": [...]}` cuts this
//    agent off from those peers at the libp2p connection gater (partitions).
// Tests only; production runs bin/daemonmesh.js.

import { rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import type { Agent } from '../../agent/agent.js'
import { systemClock, type Clock } from '../../agent/clock.js'
import { withTimings, type TimingOverrides } from '../../agent/defaults.js'
import { runAgent } from '../../agent/main.js'
import type { ContainerRuntime } from '../../agent/runtime/runtime.js'

const offset = Number(process.env.DAEMONMESH_TEST_CLOCK_OFFSET_MS ?? 0)
const checkDelay = Number(process.env.DAEMONMESH_TEST_IMAGE_CHECK_DELAY_MS ?? 0)
const delayed = process.env.DAEMONMESH_TEST_DELAY_DAEMONSET ?? ''
const timings = process.env.DAEMONMESH_TEST_TIMINGS === undefined ? undefined : withTimings(JSON.parse(process.env.DAEMONMESH_TEST_TIMINGS) as TimingOverrides)

/** skewed is the system clock with its wall time `ms` ahead. */
const skewed = (ms: number): Clock => ({ ...systemClock, wall: () => systemClock.wall() + ms })

/** slowImageCheck wraps a runtime so that checking the images of DaemonSet `ds` takes `ms` longer. */
const slowImageCheck = (ms: number, ds: string) => (r: ContainerRuntime): ContainerRuntime => {
  const wrapped = Object.create(r) as ContainerRuntime
  wrapped.hasImages = async (plan) => {
    if (plan.daemonSet === ds) await new Promise((resolve) => setTimeout(resolve, ms))
    return r.hasImages(plan)
  }
  return wrapped
}

/** serveControl answers the test's requests on DATADIR/control.sock. */
async function serveControl(agent: Agent): Promise<void> {
  const path = join(agent.config.dataDir, 'control.sock')
  await rm(path, { force: true })
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        if (req.method === 'POST' && req.url === '/refuse') {
          const { peers } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { peers: string[] }
          await agent.network.refuse(peers)
          res.writeHead(200).end('{}')
        } else {
          res.writeHead(404).end('{}')
        }
      })().catch((err: unknown) => res.writeHead(500).end(JSON.stringify({ error: (err as Error).message })))
    })
  })
  server.unref()
  await new Promise<void>((resolve) => server.listen(path, resolve))
}

process.exitCode = await runAgent(process.argv.slice(2), process.stderr, process.stdout, {
  ...(offset === 0 ? {} : { clock: skewed(offset) }),
  ...(checkDelay === 0 ? {} : { runtime: slowImageCheck(checkDelay, delayed) }),
  ...(timings === undefined ? {} : { timings }),
  started: (agent) => void serveControl(agent),
})
