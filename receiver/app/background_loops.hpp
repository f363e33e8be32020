#pragma once
// What the receiver does between requests: expiring abandoned resumable uploads and applying
// retention (hourly), re-reading a store other replicas share, and starting scheduled scrubs.
// Each runs as one coroutine under the server's stop_control.

#include <chrono>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "ingest/tus/tus_store.hpp"
#include "policy/scrub.hpp"
#include "state/context.hpp"

namespace pgship::receiver {

/// Removes resumable uploads nobody touched for UPLOAD_EXPIRY and applies retention to every
/// client's databases: shortly after start, then every UPLOAD_EXPIRY/4 (at most hourly).
net::awaitable<void> housekeeping(std::shared_ptr<receiver_context> ctx,
                                  std::shared_ptr<tus_uploads> uploads);

/// For a store other replicas write too: re-reads its listing (quota, metrics) every 10 s.
net::awaitable<void> refresh_shared_store(std::shared_ptr<receiver_context> ctx);

/// Starts the scheduled scrubs: checks every few seconds (at most a minute) whether one is due.
/// storage.low when free space falls below MIN_FREE_BYTES, storage.ok when it is back (looked
/// at every 10 s; WEBHOOK_URL set).
net::awaitable<void> watch_storage_space(std::shared_ptr<receiver_context> ctx);

net::awaitable<void> scrub_schedule(std::shared_ptr<scrubber> scrub,
                                    std::chrono::milliseconds interval);

}  // namespace pgship::receiver
