#!/usr/bin/env bash
# The image's version and commit as build arguments, from the one place the version comes from
# (cmake/version.cmake: the repository's version, refined by git describe over vX.Y.Z tags).
# Prints key=value lines, as a GitHub step appends to $GITHUB_OUTPUT and
# tests/image/build_images.sh reads:
#   version=0.1.0-3-gabc1234
#   revision=<40-hex commit>
#   image=ghcr.io/<owner>/<repo>      (on GitHub: GITHUB_REPOSITORY, lower-cased for the registry)
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
cmake -DSOURCE_DIR="$src" -P "$src/cmake/version.cmake"
if [ -n "${GITHUB_REPOSITORY:-}" ]; then
  echo "image=ghcr.io/${GITHUB_REPOSITORY,,}"
fi
