#!/usr/bin/env bash
# Signs a published image by digest with cosign's keyless flow (the CI job's OIDC identity,
# recorded in Sigstore's transparency log); README "Verify the image" checks it.
#   deploy/release/sign-image.sh ghcr.io/<owner>/pgship@sha256:<digest>
set -euo pipefail
ref="${1:?usage: $0 <image>@sha256:<digest>}"
case "$ref" in
  *@sha256:[0-9a-f]*) ;;
  *) echo "sign-image.sh: sign a digest (<image>@sha256:...), never a tag: $ref" >&2; exit 2 ;;
esac
# Registries want lower-case repository names; github.repository keeps the owner's case.
cosign sign --yes "${ref,,}"
