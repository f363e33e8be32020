#pragma once
// What every receiver route shares: settings, storage, spool, tokens, metrics, the upload cap.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include <boost/asio/thread_pool.hpp>

#include <pgship/common/http/exchange.hpp>

#include "auth.hpp"
#include "client_byte_rates.hpp"
#include "leaky_buckets.hpp"
#include "metrics.hpp"
#include "quota_ledger.hpp"
#include "settings.hpp"
#include "spool.hpp"
#include "storage.hpp"

namespace pgship::receiver {

struct receiver_context {
  explicit receiver_context(settings s);

  const settings cfg;
  /// Incoming bytes and tus state, on local disk whatever the backend.
  spool incoming;
  /// Committed backups (STORAGE_BACKEND); call it through on_storage_thread from a coroutine.
  std::unique_ptr<storage> store;
  quota_ledger quota{*store};
  receiver_metrics metrics;
  /// RATE_LIMIT per client IP and per token's client, AUTH_FAILURE_LIMIT per IP (null: off).
  std::unique_ptr<leaky_buckets> ip_requests, client_requests, auth_failures;
  /// CLIENT_MAX_RATE: one byte bucket per client, shared by all its uploads.
  client_byte_rates upload_rates;

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

/// Checks the limits and the bearer token for `needed` (nullopt: any valid token): 429 +
/// Retry-After while the client IP is blocked for failed logins or over RATE_LIMIT, or the
/// token's client is; 401 (missing or unknown token, counted against the IP's
/// AUTH_FAILURE_LIMIT) or 403 (token without that scope). Each refusal is counted and logged
/// with the peer address, and nullopt returned. On success names the client in the access log.
net::awaitable<std::optional<principal>> authorize(http_server::exchange& ex, receiver_context& ctx,
                                                   std::optional<scope> needed);

/// Holds one of MAX_CONCURRENT_UPLOADS places while an upload runs.
class upload_slot {
 public:
  explicit upload_slot(receiver_context& ctx);
  ~upload_slot();
  upload_slot(const upload_slot&) = delete;
  upload_slot& operator=(const upload_slot&) = delete;
  bool acquired() const { return acquired_; }
  /// Gives the place back early (before the answer is sent).
  void release();

 private:
  receiver_context& ctx_;
  bool acquired_ = false;
};

/// Holds quota for one upload while it arrives (quota_ledger::hold) and releases it when the upload
/// ends, unless dismissed (a tus upload keeps its hold until committed, terminated or expired).
class quota_hold {
 public:
  quota_hold(quota_ledger& ledger, std::string key) : ledger_(ledger), key_(std::move(key)) {}
  ~quota_hold() {
    if (!key_.empty()) ledger_.release(key_);
  }
  quota_hold(const quota_hold&) = delete;
  quota_hold& operator=(const quota_hold&) = delete;
  const std::string& key() const { return key_; }
  void dismiss() { key_.clear(); }
  /// Gives the hold back now (before the answer: the stored backup counts from here on).
  void release() {
    if (!key_.empty()) ledger_.release(key_);
    key_.clear();
  }

 private:
  quota_ledger& ledger_;
  std::string key_;
};

/// Refuses an upload of `declared` bytes (when known) for `client` if it would break
/// MAX_UPLOAD_BYTES (413), MIN_FREE_BYTES (507) or QUOTA_BYTES (507), counting what the client
/// has stored and every upload of its still arriving; otherwise holds `declared` for the upload
/// `hold_key` (see quota_ledger::hold). `on_disk` of the bytes are written already (a resumable
/// upload's offset): they took their free space. Returns true when it answered (refused).
net::awaitable<bool> refuse_over_limits(http_server::exchange& ex, receiver_context& ctx,
                                        const std::string& client,
                                        std::optional<std::uint64_t> declared,
                                        const std::string& hold_key, std::uint64_t on_disk = 0);

/// While a body streams in: true when free space is below MIN_FREE_BYTES plus `to_write` (the
/// bytes about to be written), or `received` bytes for the upload `hold_key` would take the
/// client over QUOTA_BYTES. Cheap enough to call every few MiB.
bool out_of_space_while_streaming(receiver_context& ctx, const std::string& client,
                                  const std::string& hold_key, std::uint64_t received,
                                  std::uint64_t to_write = 0);

/// True when a write of `n` bytes that brought a stream to `total` crossed a 64 MiB mark.
inline bool crossed_check_interval(std::uint64_t total, std::uint64_t n) {
  constexpr std::uint64_t interval = 64ull * 1024 * 1024;
  return total / interval != (total - n) / interval;
}

}  // namespace pgship::receiver
