#!/bin/sh
# /usr/bin/daemonmesh from the package: runs the CLI or the agent with the Node runtime bundled
# in ../lib/daemonmesh (found from this script's own path, so an unpacked tree works too).
# No npm is involved. The agent runs with V8's young generation capped at 1 MiB per
# semi-space (about 20 MB less resident memory; see the systemd unit).
set -e
lib=$(dirname "$(readlink -f "$0")")/../lib/daemonmesh
if [ "${1:-}" = agent ]; then
  exec "$lib/node" --max-semi-space-size=1 "$lib/bin/daemonmesh.js" "$@"
fi
exec "$lib/node" "$lib/bin/daemonmesh.js" "$@"
