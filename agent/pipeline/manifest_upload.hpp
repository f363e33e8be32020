#pragma once
// A backup's manifest travels with the backup (DESIGN.md "Backup naming and files"): once the
// backup is on the receiver, its manifest goes up beside it as `<name>.manifest.json`, or
// age-encrypted to the backup's own recipients as `<name>.manifest.json.age`, so a restore or
// drill on any host has its row counts. The receiver keeps it under the backup's retention.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"
#include "repository/manifest.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

/// What the receiver keeps for a manifest: its stored name and bytes.
struct sealed_manifest {
  stage_error error;  // config_invalid: a recipient of the manifest does not parse
  std::string name;
  std::string bytes;
};

/// to_json(m), encrypted to m.encryption_recipients when it has any (the recipients the
/// backup itself is encrypted to: a manifest that names the tables is no less private).
sealed_manifest seal_manifest(const manifest& m);

/// Seals m's manifest and uploads it beside the stored backup m.name; a passing failure is
/// tried again twice, a second apart. The backup stands without it: the caller logs a failure.
boost::asio::awaitable<stage_error> ship_manifest(http_client& client, const std::string& token,
                                                  const manifest& m);

}  // namespace pgship::agent
