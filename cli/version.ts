// The version printed by `daemonmesh version` and carried in node records.

import { readFileSync } from 'node:fs'

/** VERSION is package.json's version, read once at start. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
