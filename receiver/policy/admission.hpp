#pragma once
// Whether an upload may start and go on: MAX_CONCURRENT_UPLOADS, MAX_UPLOAD_BYTES,
// MIN_FREE_BYTES and QUOTA_BYTES, for single-request and resumable uploads alike.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include <pgship/common/http/exchange.hpp>

#include "state/context.hpp"

namespace pgship::receiver {

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
/// `before_answer` runs before a refusal is sent: a tus PATCH gives its upload's lock back
/// there, since the client may send the next PATCH the moment it reads the answer.
net::awaitable<bool> refuse_over_limits(http_server::exchange& ex, receiver_context& ctx,
                                        const std::string& client,
                                        std::optional<std::uint64_t> declared,
                                        const std::string& hold_key, std::uint64_t on_disk = 0,
                                        const std::function<void()>& before_answer = {});

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
