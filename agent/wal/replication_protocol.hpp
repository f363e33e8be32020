#pragma once
// PostgreSQL's streaming replication protocol as the WAL stream speaks it (protocol.sgml
// "Streaming Replication Protocol"): the messages inside COPY BOTH, and the answers of the
// replication commands the session sends before it. Pure: no connection, no clock of its own.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <pgship/common/wal/wal_names.hpp>

#include "pg_async.hpp"

namespace pgship::agent::wal {

using pgship::wal::lsn;
using pgship::wal::timeline_id;

/// Server times in the protocol: microseconds since 2000-01-01 00:00 UTC.
using pg_time = std::int64_t;
pg_time to_pg_time(std::chrono::system_clock::time_point at);
std::chrono::system_clock::time_point from_pg_time(pg_time at);
/// Milliseconds since the Unix epoch (the time map's unit).
std::int64_t pg_time_to_unix_ms(pg_time at);

/// 'w': WAL bytes starting at `data_start`; `payload` points into the parsed message.
struct xlog_data {
  lsn data_start = 0;
  lsn wal_end = 0;  // the server's current end of WAL
  pg_time send_time = 0;
  std::span<const std::byte> payload;
};

/// 'k': the server's end of WAL, and whether it wants a status update at once.
struct keepalive {
  lsn wal_end = 0;
  pg_time send_time = 0;
  bool reply_requested = false;
};

/// One message the server sends inside COPY BOTH.
struct server_message {
  enum class kind { xlog_data, keepalive } type = kind::keepalive;
  xlog_data data;   // when type == xlog_data
  keepalive alive;  // when type == keepalive
};

/// nullopt for a message that is neither, or is cut short (`why` says which).
std::optional<server_message> parse_server_message(std::span<const std::byte> message,
                                                   std::string& why);

/// 'r': the standby status update.
struct standby_status {
  lsn write = 0;  // last byte received
  lsn flush = 0;  // last byte durable (0: unknown; the walsender then leaves the slot alone)
  lsn apply = 0;
  pg_time send_time = 0;
  bool reply_requested = false;
};
inline constexpr std::size_t standby_status_size = 34;
std::array<std::byte, standby_status_size> build_standby_status(const standby_status& status);

/// IDENTIFY_SYSTEM's row.
struct system_identity {
  std::string system_id;  // decimal, as the receiver's routes name it
  timeline_id timeline = 0;
  lsn xlog_pos = 0;  // the server's current flush position
};
std::optional<system_identity> parse_identify_system(const pg_table& table, std::string& why);

/// READ_REPLICATION_SLOT's row (every column NULL when the slot does not exist).
struct slot_state {
  bool exists = false;
  std::string type;                // "physical" or "logical"
  std::optional<lsn> restart_lsn;  // NULL: the slot never reserved WAL, or lost it
  std::optional<timeline_id> restart_tli;
};
std::optional<slot_state> parse_read_replication_slot(const pg_table& table, std::string& why);

/// A size as SHOW prints it ("16MB", "1GB", "8kB", "1024"): bytes; nullopt when unreadable.
std::optional<std::uint64_t> parse_size_setting(std::string_view text);
/// A time as SHOW prints a millisecond setting ("60s", "1min", "500ms", "0"); nullopt when
/// unreadable.
std::optional<std::chrono::milliseconds> parse_time_setting(std::string_view text);

/// The first value of a one-row, one-column table (SHOW); nullopt otherwise.
std::optional<std::string> single_value(const pg_table& table);

/// What START_REPLICATION's end of a timeline says (the result after COPY ends), when the
/// server moved to another timeline.
struct timeline_end {
  timeline_id next_timeline = 0;
  lsn next_start = 0;
};
std::optional<timeline_end> parse_timeline_end(const pg_table& table);

/// TIMELINE_HISTORY's row: (file name, content).
std::optional<std::pair<std::string, std::string>> parse_timeline_history_result(
    const pg_table& table);

/// The replication commands, quoted as the replication grammar wants.
std::string start_replication_command(std::string_view slot, lsn start, timeline_id timeline);
std::string read_slot_command(std::string_view slot);
std::string create_slot_command(std::string_view slot);
std::string drop_slot_command(std::string_view slot);

}  // namespace pgship::agent::wal
