#pragma once
// GET /api/backup/download/{id}.manifest: the manifest the agent uploaded beside a backup
// (ingest/manifest_upload), back as stored, opaque (maybe ciphertext).

#include <boost/asio/awaitable.hpp>

#include <pgship/common/http/exchange.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

/// The download route's answer for `{id}.manifest` once `backup` was found: 200 with the stored
/// bytes and X-Manifest-Name (application/json, or application/octet-stream when encrypted),
/// 404 when the backup has no manifest.
net::awaitable<void> send_manifest(http_server::exchange& ex, receiver_context& ctx,
                                   const backup_record& backup);

}  // namespace pgship::receiver
