#include "wal/replication_protocol.hpp"
#include <algorithm>
#include <charconv>
#include <limits>

namespace pgship::agent::wal {
namespace {

// PostgreSQL's epoch, 2000-01-01 00:00:00 UTC, in Unix seconds.
constexpr std::int64_t pg_epoch_unix_seconds = 946684800;
constexpr std::int64_t micros_per_second = 1000000;

std::uint64_t read_u64(std::span<const std::byte> bytes, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<std::uint8_t>(bytes[at + i]);
  return v;
}

void write_u64(std::span<std::byte> out, std::size_t at, std::uint64_t v) {
  for (std::size_t i = 0; i < 8; ++i)
    out[at + i] = static_cast<std::byte>(v >> (56 - 8 * i));
}

const std::optional<std::string>* column(const pg_table& table, std::string_view name) {
  if (table.rows.size() != 1) return nullptr;
  const auto it = std::find(table.columns.begin(), table.columns.end(), name);
  if (it == table.columns.end()) return nullptr;
  const auto index = static_cast<std::size_t>(it - table.columns.begin());
  return index < table.rows[0].size() ? &table.rows[0][index] : nullptr;
}

template <class Int>
std::optional<Int> parse_int(std::string_view text) {
  Int v{};
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

// "16MB" -> (16, "MB"); the unit is what follows the digits.
std::optional<std::pair<std::uint64_t, std::string_view>> number_and_unit(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0) return std::nullopt;
  const auto n = parse_int<std::uint64_t>(text.substr(0, digits));
  if (!n) return std::nullopt;
  return std::make_pair(*n, text.substr(digits));
}

std::optional<std::uint64_t> scaled(std::uint64_t n, std::uint64_t unit) {
  if (n > std::numeric_limits<std::uint64_t>::max() / unit) return std::nullopt;
  return n * unit;
}

std::string quoted(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

}  // namespace

pg_time to_pg_time(std::chrono::system_clock::time_point at) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch());
  return us.count() - pg_epoch_unix_seconds * micros_per_second;
}

std::chrono::system_clock::time_point from_pg_time(pg_time at) {
  const std::chrono::microseconds us(at + pg_epoch_unix_seconds * micros_per_second);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(us));
}

std::int64_t pg_time_to_unix_ms(pg_time at) {
  const std::int64_t us = at + pg_epoch_unix_seconds * micros_per_second;
  // Floor, so that times before 1970 (never met) still round the same way.
  return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}

std::optional<server_message> parse_server_message(std::span<const std::byte> message,
                                                   std::string& why) {
  if (message.empty()) {
    why = "an empty COPY message";
    return std::nullopt;
  }
  const char type = static_cast<char>(message[0]);
  server_message out;
  if (type == 'w') {
    constexpr std::size_t header = 1 + 8 + 8 + 8;
    if (message.size() < header) {
      why = "an XLogData message of " + std::to_string(message.size()) + " bytes";
      return std::nullopt;
    }
    out.type = server_message::kind::xlog_data;
    out.data.data_start = read_u64(message, 1);
    out.data.wal_end = read_u64(message, 9);
    out.data.send_time = static_cast<pg_time>(read_u64(message, 17));
    out.data.payload = message.subspan(header);
    return out;
  }
  if (type == 'k') {
    constexpr std::size_t size = 1 + 8 + 8 + 1;
    if (message.size() < size) {
      why = "a keepalive message of " + std::to_string(message.size()) + " bytes";
      return std::nullopt;
    }
    out.type = server_message::kind::keepalive;
    out.alive.wal_end = read_u64(message, 1);
    out.alive.send_time = static_cast<pg_time>(read_u64(message, 9));
    out.alive.reply_requested = message[17] != std::byte{0};
    return out;
  }
  why = std::string("a COPY message of unknown type ") +
        std::to_string(static_cast<unsigned>(static_cast<std::uint8_t>(type)));
  return std::nullopt;
}

std::array<std::byte, standby_status_size> build_standby_status(const standby_status& status) {
  std::array<std::byte, standby_status_size> out{};
  out[0] = static_cast<std::byte>('r');
  write_u64(out, 1, status.write);
  write_u64(out, 9, status.flush);
  write_u64(out, 17, status.apply);
  write_u64(out, 25, static_cast<std::uint64_t>(status.send_time));
  out[33] = status.reply_requested ? std::byte{1} : std::byte{0};
  return out;
}

std::optional<system_identity> parse_identify_system(const pg_table& table, std::string& why) {
  const auto* id = column(table, "systemid");
  const auto* tli = column(table, "timeline");
  const auto* pos = column(table, "xlogpos");
  if (id == nullptr || tli == nullptr || pos == nullptr || !*id || !*tli || !*pos) {
    why = "IDENTIFY_SYSTEM did not answer one row of systemid, timeline and xlogpos";
    return std::nullopt;
  }
  system_identity out;
  out.system_id = **id;
  const auto timeline = parse_int<timeline_id>(**tli);
  const auto position = pgship::wal::parse_lsn(**pos);
  if (out.system_id.empty() || !parse_int<std::uint64_t>(out.system_id) || !timeline ||
      *timeline == 0 || !position) {
    why = "IDENTIFY_SYSTEM answered systemid \"" + out.system_id + "\", timeline \"" + **tli +
          "\", xlogpos \"" + **pos + "\"";
    return std::nullopt;
  }
  out.timeline = *timeline;
  out.xlog_pos = *position;
  return out;
}

std::optional<slot_state> parse_read_replication_slot(const pg_table& table, std::string& why) {
  const auto* type = column(table, "slot_type");
  const auto* restart = column(table, "restart_lsn");
  const auto* tli = column(table, "restart_tli");
  if (type == nullptr || restart == nullptr || tli == nullptr) {
    why = "READ_REPLICATION_SLOT did not answer one row of slot_type, restart_lsn, restart_tli";
    return std::nullopt;
  }
  slot_state out;
  if (!*type) return out;  // no such slot
  out.exists = true;
  out.type = **type;
  if (*restart) {
    out.restart_lsn = pgship::wal::parse_lsn(**restart);
    if (!out.restart_lsn) {
      why = "READ_REPLICATION_SLOT answered restart_lsn \"" + **restart + "\"";
      return std::nullopt;
    }
  }
  if (*tli) {
    out.restart_tli = parse_int<timeline_id>(**tli);
    if (!out.restart_tli) {
      why = "READ_REPLICATION_SLOT answered restart_tli \"" + **tli + "\"";
      return std::nullopt;
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_size_setting(std::string_view text) {
  const auto parts = number_and_unit(text);
  if (!parts) return std::nullopt;
  const auto [n, unit] = *parts;
  if (unit.empty() || unit == "B") return n;
  if (unit == "kB") return scaled(n, 1ull << 10);
  if (unit == "MB") return scaled(n, 1ull << 20);
  if (unit == "GB") return scaled(n, 1ull << 30);
  if (unit == "TB") return scaled(n, 1ull << 40);
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_time_setting(std::string_view text) {
  const auto parts = number_and_unit(text);
  if (!parts) return std::nullopt;
  const auto [n, unit] = *parts;
  std::optional<std::uint64_t> ms;
  if (unit.empty() || unit == "ms") ms = n;
  if (unit == "s") ms = scaled(n, 1000);
  if (unit == "min") ms = scaled(n, 60 * 1000);
  if (unit == "h") ms = scaled(n, 3600 * 1000);
  if (unit == "d") ms = scaled(n, 86400 * 1000);
  if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
}

std::optional<std::string> single_value(const pg_table& table) {
  if (table.rows.size() != 1 || table.rows[0].size() != 1 || !table.rows[0][0]) return std::nullopt;
  return table.rows[0][0];
}

std::optional<timeline_end> parse_timeline_end(const pg_table& table) {
  const auto* tli = column(table, "next_tli");
  const auto* start = column(table, "next_tli_startpos");
  if (tli == nullptr || start == nullptr || !*tli || !*start) return std::nullopt;
  const auto next = parse_int<std::uint64_t>(**tli);
  const auto position = pgship::wal::parse_lsn(**start);
  if (!next || *next == 0 || *next > std::numeric_limits<timeline_id>::max() || !position)
    return std::nullopt;
  return timeline_end{static_cast<timeline_id>(*next), *position};
}

std::optional<std::pair<std::string, std::string>> parse_timeline_history_result(
    const pg_table& table) {
  const auto* name = column(table, "filename");
  const auto* content = column(table, "content");
  if (name == nullptr || content == nullptr || !*name || !*content) return std::nullopt;
  return std::make_pair(**name, **content);
}

std::string start_replication_command(std::string_view slot, lsn start, timeline_id timeline) {
  return "START_REPLICATION SLOT " + quoted(slot) + " PHYSICAL " + pgship::wal::format_lsn(start) +
         " TIMELINE " + std::to_string(timeline);
}

std::string read_slot_command(std::string_view slot) {
  return "READ_REPLICATION_SLOT " + quoted(slot);
}

std::string drop_slot_command(std::string_view slot) {
  return "DROP_REPLICATION_SLOT " + quoted(slot);
}

std::string create_slot_command(std::string_view slot) {
  return "CREATE_REPLICATION_SLOT " + quoted(slot) + " PHYSICAL (RESERVE_WAL)";
}

}  // namespace pgship::agent::wal
