#pragma once
// Where a restore or a drill finds the manifest of the backup it brings back: BACKUP_DIR's
// copy when it is of the same bytes, else the copy the receiver keeps beside the backup
// (decrypted with AGE_IDENTITY_FILE when the backup is encrypted). So a drill or a restore on
// a host that never took the backup (disaster recovery) still knows the row counts and the
// extensions' versions.

#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "net/http_client.hpp"
#include "net/receiver_api.hpp"
#include "repository/manifest.hpp"
#include "settings.hpp"

namespace pgship::agent {

/// nullopt with `note` saying why when there is none to be had (an old backup, a receiver
/// that does not keep one, an identity that does not fit).
boost::asio::awaitable<std::optional<manifest>> find_manifest(const settings& cfg,
                                                              http_client& client,
                                                              const remote_backup& backup,
                                                              std::string& note);

}  // namespace pgship::agent
