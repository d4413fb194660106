// Docker Swarm on the bench hosts' own dockerds, as the competitor for "one copy on every
// host": the first host inits the swarm on its bridge address, the others join as workers,
// and the workload is a global service on the host network. A benchmark helper.

import { docker } from '../../helpers/docker.js'
import { waitFor } from '../../helpers/cluster.js'
import type { ContainerEvent } from './events.js'

export interface SwarmHost {
  /** The host's dockerd (unix://PATH). */
  docker: string
  /** The host's address on the bench bridge. */
  address: string
}

/** Swarm drives one swarm over the bench hosts. */
export class Swarm {
  constructor(private readonly hosts: readonly SwarmHost[]) {}

  private get manager(): string {
    return (this.hosts[0] as SwarmHost).docker
  }

  /** up inits the swarm on the first host, joins the others as workers and waits until every node is Ready. */
  async up(): Promise<void> {
    const first = this.hosts[0] as SwarmHost
    await docker(first.docker, 'swarm', 'init', '--advertise-addr', first.address, '--listen-addr', `${first.address}:2377`)
    const token = (await docker(first.docker, 'swarm', 'join-token', '-q', 'worker')).trim()
    await Promise.all(this.hosts.slice(1).map((h) => docker(h.docker, 'swarm', 'join', '--token', token, '--advertise-addr', h.address, '--listen-addr', `${h.address}:2377`, `${first.address}:2377`)))
    await waitFor('every swarm node Ready', async () => (await docker(this.manager, 'node', 'ls', '--format', '{{.Status}}')).split('\n').filter((s) => s === 'Ready').length === this.hosts.length, 60_000, 200)
  }

  /** create starts a global service on the host network (1 s stop grace; updates one task at a time with a 1 s monitor). */
  async create(name: string, image: string, opts: { startFirst?: boolean } = {}): Promise<void> {
    await docker(this.manager, 'service', 'create', '--detach', '--quiet', '--name', name, '--mode', 'global', '--network', 'host', '--no-resolve-image',
      '--stop-grace-period', '1s', '--update-parallelism', '1', '--update-monitor', '1s', '--update-delay', '0s', '--update-order', opts.startFirst === true ? 'start-first' : 'stop-first',
      image, 'sleep', '3600')
  }

  /** update changes the service's image (a rolling update). */
  async update(name: string, image: string): Promise<void> {
    await docker(this.manager, 'service', 'update', '--detach', '--quiet', '--no-resolve-image', '--image', image, name)
  }

  /** remove deletes the service. */
  async remove(name: string): Promise<void> {
    await docker(this.manager, 'service', 'rm', name)
  }

  /** down makes every host leave the swarm; never throws. */
  async down(): Promise<void> {
    await Promise.all(this.hosts.map((h) => docker(h.docker, 'swarm', 'leave', '--force').catch(() => undefined)))
  }
}

/** swarmTask selects the containers of a swarm service's tasks. */
export const swarmTask = (name: string) => (e: ContainerEvent): boolean => e.attrs['com.docker.swarm.service.name'] === name
