#!/usr/bin/env bash
# Builds what the image tests run (ctest fixture `image_built`, label `image`):
#   - debian:bookworm and debian:bookworm-slim, bootstrapped with mmdebstrap from this machine's
#     own apt sources (Docker Hub is out of reach), so `FROM` resolves with --pull=never;
#   - the real deploy/docker/Dockerfile (podman build --pull=never --format docker) as
#     localhost/pgship:test, with the version and commit from cmake/version.cmake;
#   - stand-ins for the compose file's postgres:15 and prom/prometheus images, from Debian's
#     packages (tests/image/standins), under the names the compose file uses.
# Prints every phase's time and the image size, and fails over IMAGE_LIMIT_MB (120).
#   SRC=<checkout> WORK=<scratch> [PGSHIP_REBUILD_BASE=1] [HOST_CCACHE=<dir>] build_images.sh
set -euo pipefail
. "$(dirname "$0")/common.sh"
IMAGE_LIMIT_MB="${IMAGE_LIMIT_MB:-120}"

phase "base images (mmdebstrap)"
base_label=org.pgship.base
ours() { [ "$(podman image inspect -f "{{index .Config.Labels \"$base_label\"}}" "$1" 2>/dev/null)" = mmdebstrap ]; }
if [ "${PGSHIP_REBUILD_BASE:-0}" != 1 ] && ours "$BASE_FULL" && ours "$BASE_SLIM"; then
  ok "reusing $BASE_FULL and $BASE_SLIM from an earlier run (PGSHIP_REBUILD_BASE=1 rebuilds)"
else
  sources="${DEBIAN_SOURCES:-}"
  if [ -z "$sources" ]; then
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then sources=/etc/apt/sources.list.d/debian.sources
    elif grep -qs '^deb ' /etc/apt/sources.list; then sources=/etc/apt/sources.list
    else fail "no Debian apt sources found; set DEBIAN_SOURCES"; fi
  fi
  # minbase with a merged /usr is what the official images are; -slim adds the official
  # variant's dpkg path excludes, which stay in /etc/dpkg/dpkg.cfg.d/ for later installs.
  common=(--variant=minbase --format=tar --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  slim=()
  for p in doc info linda lintian/overrides locale man groff; do
    slim+=("--dpkgopt=path-exclude=/usr/share/$p/*")
  done
  slim+=("--dpkgopt=path-include=/usr/share/doc/*/copyright")
  mkdir -p "$WORK/base"
  mmdebstrap "${common[@]}" bookworm "$WORK/base/full.tar" "$sources" > "$LOG/mmdebstrap-full.log" 2>&1 &
  full=$!
  on_exit "kill $full 2> /dev/null"
  mmdebstrap "${common[@]}" "${slim[@]}" bookworm "$WORK/base/slim.tar" "$sources" \
    > "$LOG/mmdebstrap-slim.log" 2>&1 || fail "mmdebstrap bookworm-slim (see $LOG/mmdebstrap-slim.log)"
  wait "$full" || fail "mmdebstrap bookworm (see $LOG/mmdebstrap-full.log)"
  for pair in "full:$BASE_FULL" "slim:$BASE_SLIM"; do
    podman import --change 'CMD ["bash"]' --change "LABEL $base_label=mmdebstrap" \
      "$WORK/base/${pair%%:*}.tar" "${pair#*:}" > /dev/null
  done
  rm -rf "$WORK/base"
fi
ok "$BASE_FULL $(image_mib "$BASE_FULL") MB, $BASE_SLIM $(image_mib "$BASE_SLIM") MB"

phase "podman build (deploy/docker/Dockerfile)"
meta=$("$SRC/deploy/release/image-meta.sh")
version=$(sed -n 's/^version=//p' <<< "$meta")
revision=$(sed -n 's/^revision=//p' <<< "$meta")
# The host's ccache directory is mounted for the container's compile: a re-run compiles only
# what changed. A fresh machine's first run compiles everything (~4 min on 2 cores): the
# container installs the mirror's newest -dev packages, and a header that differs from the
# host's (libssl-dev here) changes every key.
cache=()
host_ccache="${HOST_CCACHE:-$(ccache -k cache_dir 2>/dev/null || true)}"
[ -n "$host_ccache" ] && [ -d "$host_ccache" ] && cache=(-v "$host_ccache:/ccache")
# The context is the checkout's files as a user has them, plus deploy/secrets/ as the README's
# compose flow creates it, holding a canary the image tests look for in every layer.
ctx="$WORK/ctx"
mkdir -p "$ctx/deploy/secrets"
if git -C "$SRC" rev-parse --git-dir > /dev/null 2>&1; then
  git -C "$SRC" ls-files -z -co --exclude-standard | (cd "$SRC" && tar --null --ignore-failed-read -T - -cf -) |
    tar -xf - -C "$ctx"
else   # a tarball: everything but build trees
  tar -C "$SRC" --exclude=./build --exclude='./build-*' --exclude='./deploy/secrets' -cf - . | tar -xf - -C "$ctx"
fi
head -c 18 /dev/urandom | base64 | tr '+/' '-_' | sed 's/^/canary-/' > "$IMAGE_STORE/canary"
for s in pg_password backup_token; do cp "$IMAGE_STORE/canary" "$ctx/deploy/secrets/$s"; done
stamp() { while IFS= read -r line; do printf '%(%s)T %s\n' -1 "$line"; done; }
(cd "$ctx" && podman build --pull=never --format docker "${cache[@]}" \
  --build-arg PGSHIP_VERSION="$version" --build-arg PGSHIP_REVISION="$revision" \
  -f deploy/docker/Dockerfile -t "$IMAGE" . 2>&1) | stamp > "$LOG/build.log" ||
  { tail -30 "$LOG/build.log" >&2; fail "podman build (see $LOG/build.log)"; }
# Seconds per Dockerfile step, the slow ones only.
awk '/STEP [0-9]+\/[0-9]+:/ { if (n) printf "timing:   step %4ds %s\n", $1 - t, s; t = $1; s = substr($0, index($0, $2), 60); n = 1 }
     END { if (n) printf "timing:   step %4ds %s\n", last - t, s } { last = $1 }' "$LOG/build.log" |
  awk '$3 + 0 >= 5'
ok "built $IMAGE ($version, $revision)"
# The build stage holds the whole context: deploy/secrets/ must not have reached it either.
# (Kept as localhost/pgship-build:test: its layers make the next run's build stage a cache hit.)
(cd "$ctx" && podman build --pull=never --format docker --target build "${cache[@]}" \
  --build-arg PGSHIP_VERSION="$version" --build-arg PGSHIP_REVISION="$revision" \
  -f deploy/docker/Dockerfile -t localhost/pgship-build:test . > "$LOG/build-stage.log" 2>&1) ||
  fail "podman build --target build (see $LOG/build-stage.log)"
prun run --rm --entrypoint sh localhost/pgship-build:test -c \
  'test -f /src/CMakeLists.txt && ! test -e /src/deploy/secrets' ||
  fail "deploy/secrets/ reached the build stage: .dockerignore does not keep it out"
rm -rf "$ctx"
ok "the build stage has the sources and not deploy/secrets/"

size=$(image_mib "$IMAGE")
echo "image size: $IMAGE $size MB (target <= $IMAGE_LIMIT_MB MB)"
[ "$size" -le "$IMAGE_LIMIT_MB" ] || fail "the image is $size MB, over $IMAGE_LIMIT_MB MB"

phase "stand-in images for compose"
# postgres:15 and prom/prometheus cannot be pulled here: rebuilt from Debian's packages under
# the names the compose file gives, with the interface it uses.
compose="$SRC/deploy/docker-compose.yml"
pg_image=$(sed -n 's/^ *image: *\(postgres:.*\)$/\1/p' "$compose")
prom_image=$(sed -n 's/^ *image: *\(prom\/prometheus:.*\)$/\1/p' "$compose")
[ -n "$pg_image" ] && [ -n "$prom_image" ] || fail "the compose file names no postgres or prom/prometheus image"
standins="$(dirname "$0")/standins"
podman build --pull=never --format docker -t "docker.io/library/$pg_image" "$standins/postgres" \
  > "$LOG/build-postgres.log" 2>&1 || fail "stand-in $pg_image (see $LOG/build-postgres.log)"
podman build --pull=never --format docker -t "docker.io/$prom_image" "$standins/prometheus" \
  > "$LOG/build-prometheus.log" 2>&1 || fail "stand-in $prom_image (see $LOG/build-prometheus.log)"
# The compose file's own image name, as Docker's API resolves it.
podman tag "$IMAGE" docker.io/library/pgship:latest
ok "docker.io/library/$pg_image, docker.io/$prom_image, docker.io/library/pgship:latest"
# Earlier runs' images, untagged by this one's, would pile up a gigabyte a run.
podman image prune -f > /dev/null 2>> "$LOG/podman-stderr.log" || true
