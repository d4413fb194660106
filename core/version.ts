// The daemonmesh version (package.json), shared by the CLI and the agent's node records.

import pkg from '../package.json' with { type: 'json' }

export const VERSION: string = pkg.version
