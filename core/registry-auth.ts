// Registry credentials for a pull, as kubelet finds them: the `.dockerconfigjson` of each of
// a pod's imagePullSecrets, the entry whose registry (and path prefix) matches the image,
// the longest match first. No I/O here; the credentials never leave the plan but for the pull.

import { z } from 'zod'

/** PullAuth is what Docker's pull takes as credentials (dockerode's `authconfig`). */
export interface PullAuth {
  username?: string
  password?: string
  email?: string
  serveraddress: string
  identitytoken?: string
}

const entrySchema = z
  .object({ username: z.string().optional(), password: z.string().optional(), auth: z.string().optional(), email: z.string().optional(), identitytoken: z.string().optional() })
  .passthrough()
const configSchema = z.object({ auths: z.record(z.string(), entrySchema) }).passthrough()

const DOCKER_HUB = 'docker.io'
const HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'docker.io'])

/** registryOf returns an image's registry host and repository path, as Docker reads a reference (`busybox` is `docker.io/library/busybox`). */
export function registryOf(image: string): { host: string; path: string } {
  const name = image.split('@')[0] ?? image
  const slash = name.indexOf('/')
  const first = slash < 0 ? '' : name.slice(0, slash)
  const hasHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost')
  const rest = hasHost ? name.slice(slash + 1) : slash < 0 ? `library/${name}` : name
  const colon = rest.lastIndexOf(':')
  const path = colon > rest.lastIndexOf('/') ? rest.slice(0, colon) : rest
  const host = hasHost ? first.toLowerCase() : DOCKER_HUB
  return { host: HUB_ALIASES.has(host) ? DOCKER_HUB : host, path }
}

/** normalizeKey reads an `auths` key (`https://host:port/v1/`, `host`, `host/path`) into host and path prefix. */
function normalizeKey(key: string): { host: string; path: string } {
  const bare = key.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '')
  const slash = bare.indexOf('/')
  const host = (slash < 0 ? bare : bare.slice(0, slash)).toLowerCase()
  let path = slash < 0 ? '' : bare.slice(slash + 1)
  if (/^v[12]$/.test(path)) path = '' // the API version of a legacy key, not a repository
  return { host: HUB_ALIASES.has(host) ? DOCKER_HUB : host, path }
}

/**
 * pullAuthFor returns the credentials for pulling `image` from the given `.dockerconfigjson`
 * contents (in the order of imagePullSecrets), or undefined when none matches. Rules:
 *  1. an entry matches when its host is the image's registry (Docker Hub's aliases are one)
 *     and its path, if any, is a prefix of the image's repository at a `/`;
 *  2. the longest matching path wins; among equals, the first Secret's;
 *  3. `auth` (base64 of `user:password`) fills a missing username and password;
 *  4. content that is not a docker config is passed over (it was checked when applied).
 */
export function pullAuthFor(image: string, configs: readonly Buffer[]): PullAuth | undefined {
  const target = registryOf(image)
  let best: { len: number; auth: PullAuth } | undefined
  for (const content of configs) {
    let parsed: z.infer<typeof configSchema>
    try {
      const r = configSchema.safeParse(JSON.parse(content.toString('utf8')))
      if (!r.success) continue
      parsed = r.data
    } catch {
      continue
    }
    for (const [key, entry] of Object.entries(parsed.auths)) {
      const k = normalizeKey(key)
      if (k.host !== target.host) continue
      if (k.path !== '' && target.path !== k.path && !target.path.startsWith(`${k.path}/`)) continue
      if (best !== undefined && best.len >= k.path.length) continue
      let { username, password } = entry
      if ((username === undefined || password === undefined) && entry.auth !== undefined) {
        const text = Buffer.from(entry.auth, 'base64').toString('utf8')
        const colon = text.indexOf(':')
        if (colon > 0) {
          username ??= text.slice(0, colon)
          password ??= text.slice(colon + 1)
        }
      }
      const auth: PullAuth = { serveraddress: target.host === DOCKER_HUB ? 'https://index.docker.io/v1/' : target.host }
      if (username !== undefined) auth.username = username
      if (password !== undefined) auth.password = password
      if (entry.email !== undefined) auth.email = entry.email
      if (entry.identitytoken !== undefined) auth.identitytoken = entry.identitytoken
      best = { len: k.path.length, auth }
    }
  }
  return best?.auth
}
