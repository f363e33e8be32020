#pragma once
// Watches the stream's slot from a normal connection every 15 s (design §2.3): how much WAL
// it keeps on the server (pg_current_wal_lsn() - restart_lsn, or the last received position on
// a standby), its wal_status and safe_wal_size. The retained bytes are
// pgship_wal_slot_retained_bytes; `unreserved` (past max_wal_size, about to be lost) is
// logged, and `lost` is reported at once so the stream reconnects and records the gap instead
// of waiting for the server to end the connection. Async on the agent's io_context (pg_async).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "pg_connection.hpp"

namespace pgship::agent::wal {

struct slot_reading {
  bool exists = false;
  std::optional<std::uint64_t> retained_bytes;  // NULL restart_lsn (lost): none
  std::string wal_status;                       // reserved, extended, unreserved, lost
  std::optional<std::int64_t> safe_wal_size;    // NULL without max_slot_wal_keep_size
};

/// The query slot_watch runs for `slot` (a literal, quoted).
std::string slot_watch_query(const std::string& slot);

class slot_watch {
 public:
  static constexpr std::chrono::seconds interval{15};

  /// `login`: a normal (not replication) connection to a database of the server.
  slot_watch(boost::asio::any_io_executor ex, pg_login login, std::string slot);

  /// Reads the slot every `interval` until cancelled (per-operation cancellation). `on_lost`
  /// is called when a reading says `lost`.
  boost::asio::awaitable<void> run(std::function<void()> on_lost);

  const std::optional<slot_reading>& last() const { return last_; }

 private:
  boost::asio::any_io_executor ex_;
  pg_login login_;
  std::string slot_;
  std::optional<slot_reading> last_;
};

}  // namespace pgship::agent::wal
