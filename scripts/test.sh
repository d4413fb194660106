#!/usr/bin/env bash
# The test command (`npm test`): brings up what the tests need and runs every tier.
#  - as root on Debian, installs what is missing: docker.io, busybox-static, iproute2,
#    systemd (for systemd-analyze, which checks the unit file), dpkg (dpkg-deb: the package and compatibility tests), and docker-registry with
#    apache2-utils (a local registry with htpasswd auth for the imagePullSecrets test);
#  - starts dockerd when none answers (log in $DAEMONMESH_TMP/dockerd.log);
#  - builds, then runs test/unit, test/integration and test/e2e with Node's test runner.
# Under CI=true a missing prerequisite fails the run instead of being skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

TMP=${DAEMONMESH_TMP:-/tmp/daemonmesh-test}
mkdir -p "$TMP"
say() { printf '[test] %s\n' "$*"; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh && dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log"; exit 1; }
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$TMP/apt.log" 2>&1 || { tail -n 30 "$TMP/apt.log"; exit 1; }
  else
    say "missing ${missing[*]}: run this as root on Debian, or install them"
    [ "${CI:-}" = true ] && exit 1
  fi
fi

if command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    say "starting dockerd"
    nohup dockerd >"$TMP/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if ! docker info >/dev/null 2>&1; then
    say "dockerd does not answer (see $TMP/dockerd.log)"
    [ "${CI:-}" = true ] && exit 1
  fi
fi

say "building"
npm run -s build

tiers=()
for tier in unit integration e2e; do
  if compgen -G "dist/test/$tier/**/*.test.js" >/dev/null || compgen -G "dist/test/$tier/*.test.js" >/dev/null; then
    tiers+=("dist/test/$tier/**/*.test.js")
  fi
done
say "running ${tiers[*]}"
exec node --test --test-concurrency=1 --test-timeout=600000 "${tiers[@]}"
