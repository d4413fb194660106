// The daemonmesh version (package.json), shared by the CLI and the agent's node records.

import pkg from '../package.json' with { type: 'json' }

export const VERSION: string = pkg.version

/**
 * since020 says whether an agent of `version` (a node record's) is of 0.2.0 or later. What
 * 0.2.0 added to the wire (lease committees, slots in records, store batches;
 * docs/compatibility.md) is used only while every member's agent is.
 */
export function since020(version: string): boolean {
  return !/^0\.[01]\./.test(version)
}
