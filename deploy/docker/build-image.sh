#!/usr/bin/env bash
# Builds Riffle's image (deploy/docker/Dockerfile) from the built project (`npm run build` first;
# `npm run docker:image` does both). Never pulls when the base image is present.
#
#   deploy/docker/build-image.sh [--tag riffle:latest] [--base node:20-bookworm-slim] [--local-base]
#
#   --tag         the image's name (resourcemanager.docker.image), default riffle:latest
#   --base        the base image (any Node 20 on glibc), default node:20-bookworm-slim (from a registry)
#   --local-base  no registry: make the base from this machine's node and the libraries `ldd` lists
#                 (docker import, tagged riffle-base:node-<version>; made once, then reused)
#
# The Docker daemon is DOCKER_HOST's, else /var/run/docker.sock.
set -euo pipefail
cd "$(dirname "$0")/../.."

tag=riffle:latest
base=node:20-bookworm-slim
local_base=false
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --local-base) local_base=true; shift ;;
    *) echo "build-image.sh: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done

# The client's BuildKit needs the buildx plugin; Debian's docker.io has none: use the classic builder then.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0

[ -f cli/dist/main.js ] || { echo "build-image.sh: cli/dist/main.js is missing: run \`npm run build\` first" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

if $local_base; then
  base="riffle-base:node-$(node --version)"
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    root="$stage/base"
    node=$(readlink -f "$(command -v node)")
    mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/etc"
    chmod 1777 "$root/tmp"
    cp "$node" "$root/usr/local/bin/node"
    # The loader and every library node and the native modules link (classic-level's binding needs the same ones).
    for lib in $( (ldd "$node"; find node_modules -path '*linux-x64*' -name '*.node' ! -name '*musl*' -exec ldd {} \;) | grep -o '/[^ ]*' | sort -u); do
      cp -L --parents "$lib" "$root/"
    done
    echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
    tar -C "$root" -c . | docker import - "$base" >/dev/null
    rm -rf "$root"
    echo "made the base image $base from $node"
  fi
fi

# The context: what `riffle` needs at run time, and the production dependencies only.
ctx="$stage/context"
mkdir -p "$ctx"
cp package.json package-lock.json "$ctx/"
cp -r proto "$ctx/"
for w in shared sdk taskmanager jobmanager testing/kafka-broker cli dashboard; do
  mkdir -p "$ctx/$w"
  cp "$w/package.json" "$ctx/$w/"
  cp -r "$w/dist" "$ctx/$w/"
  [ -d "$w/node_modules" ] && cp -a "$w/node_modules" "$ctx/$w/"
done
cp -r cli/bin "$ctx/cli/"
cp -a node_modules "$ctx/"
(cd "$ctx" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

previous=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
docker build --pull=false --build-arg "BASE=$base" -t "$tag" -f deploy/docker/Dockerfile "$ctx"
# The image this tag named before is left without a name: remove it (not while a container uses it).
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$tag")" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
echo "built $tag (base $base)"
