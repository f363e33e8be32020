#pragma once
// What every receiver route shares, and nothing else: settings, storage, spool, tokens, limits
// and metrics. The decisions taken on it (access, admission, retention) live in policy/; the
// loops and the reload that change it live in app/.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include <boost/asio/thread_pool.hpp>

#include <pgship/common/http/exchange.hpp>

#include "state/client_byte_rates.hpp"
#include "state/event_out.hpp"
#include "state/leaky_buckets.hpp"
#include "state/metrics.hpp"
#include "state/quota_ledger.hpp"
#include "state/report_book.hpp"
#include "state/settings.hpp"
#include "state/tokens.hpp"
#include "state/wal_index.hpp"
#include "storage/spool.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver {

struct receiver_context {
  /// `store` is the backend STORAGE_BACKEND chose (app/open_storage).
  receiver_context(settings s, std::unique_ptr<storage> store);

  const settings cfg;
  /// Incoming bytes and tus state, on local disk whatever the backend.
  spool incoming;
  /// Committed backups (STORAGE_BACKEND); call it through on_storage_thread from a coroutine.
  std::unique_ptr<storage> store;
  quota_ledger quota{*store, store->wal()};
  receiver_metrics metrics;
  /// RATE_LIMIT per client IP and per token's client, AUTH_FAILURE_LIMIT per IP (null: off).
  std::unique_ptr<leaky_buckets> ip_requests, client_requests, auth_failures;
  /// CLIENT_MAX_RATE: one byte bucket per client, shared by all its uploads.
  client_byte_rates upload_rates;
  /// What the physical archive (store->wal()) holds; call it on a storage thread.
  wal_index wal_ranges;
  /// WEBHOOK_*: the receiver's events (started by serve).
  event_out events;
  /// Agents' drill results and schedules, scrub findings: GET /api/status.
  report_book reports{cfg.storage_dir / ".reports"};

  /// Thread-safe: the tokens now in force (SIGHUP replaces them; a request keeps the ones
  /// it started with).
  std::shared_ptr<const token_store> tokens() const;
  void replace_tokens(token_store fresh);
  std::atomic<int> active_uploads{0};
  /// Hashes uploads alongside the I/O threads (see stream_body).
  net::thread_pool hash_pool{2};
  /// Runs storage calls, which block (on the disk, or on the network for S3), so that the I/O
  /// threads keep serving.
  net::thread_pool storage_pool{4};

  /// Runs `work` on the storage pool and resumes on the caller's executor.
  net::awaitable<void> on_storage_thread(std::function<void()> work);

 private:
  mutable std::mutex tokens_mutex_;
  std::shared_ptr<const token_store> tokens_;
};

}  // namespace pgship::receiver
