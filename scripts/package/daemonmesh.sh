#!/bin/sh
# /usr/bin/daemonmesh from the package: runs the CLI or the agent with the Node runtime bundled
# in ../lib/daemonmesh (found from this script's own path, so an unpacked tree works too).
# No npm is involved. The agent runs with the Node flags of `npm start` and the systemd unit
# (a small young generation, one V8 worker thread, code optimized for size: docs/idle-cost.md).
set -e
lib=$(dirname "$(readlink -f "$0")")/../lib/daemonmesh
if [ "${1:-}" = agent ]; then
  exec "$lib/node" --max-semi-space-size=1 --v8-pool-size=1 --optimize-for-size "$lib/bin/daemonmesh.js" "$@"
fi
exec "$lib/node" "$lib/bin/daemonmesh.js" "$@"
