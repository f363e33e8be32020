// `pgship-agent wal status`: the WAL stream as the running daemon sees it (GET /api/v1/wal),
// or, with no daemon streaming, as PostgreSQL and the receiver see it.

#include <algorithm>
#include <iostream>
#include <string_view>
#include <utility>

#include <boost/asio/this_coro.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <pgship/common/json_text.hpp>
#include <pgship/common/wal/wal_names.hpp>

#include "commands/command_runner.hpp"
#include "commands/commands.hpp"
#include "commands/daemon_client.hpp"
#include "net/receiver_api.hpp"
#include "net/wal_api.hpp"
#include "wal/archive_continuity.hpp"
#include "wal/server_facts.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace json = boost::json;
using pgship::wal::format_lsn;

namespace {

// What `wal status` prints for people, in this order: the JSON key and its label.
constexpr std::pair<std::string_view, std::string_view> fields[] = {
    {"source", "source"},
    {"up", "streaming"},
    {"system_id", "system"},
    {"timeline", "timeline"},
    {"slot", "slot"},
    {"slot_state", "slot state"},
    {"slot_restart_lsn", "slot restart LSN"},
    {"server_lsn", "server LSN"},
    {"received_lsn", "received LSN"},
    {"durable_lsn", "durable LSN"},
    {"durable_timeline", "durable timeline"},
    {"lag_bytes", "lag bytes"},
    {"lag_seconds", "lag seconds"},
    {"slot_retained_bytes", "slot retains"},
    {"queued_bytes", "queued bytes"},
    {"segments_shipped", "segments shipped"},
    {"down_seconds", "down seconds"},
    {"archive", "archive"},
    {"last_error", "last error"},
};

std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_bool()) return v.get_bool() ? "yes" : "no";
  if (v.is_double()) return fmt::format("{:.3f}", v.get_double());
  return json_text(v);
}

void print(const json::object& o, bool as_json) {
  if (as_json) {
    std::cout << json_text(o) << "\n";
    return;
  }
  for (const auto& [key, label] : fields) {
    if (const auto* v = o.if_contains(key)) {
      std::cout << fmt::format("{:<18} {}\n", std::string(label) + ":", text_of(*v));
    }
  }
}

std::string slot_state(const wal::slot_facts& slot) {
  if (!slot.exists) return "absent (the stream creates it when it starts)";
  std::string text = slot.type;
  text += slot.active ? ", active (PID " + slot.active_pid + ")" : ", inactive";
  if (!slot.wal_status.empty()) text += ", wal_status " + slot.wal_status;
  return text;
}

// The stream's facts from PostgreSQL alone: identity, position, the slot.
stage_error add_server_facts(const settings& cfg, json::object& o, std::string& system) {
  wal::server_identity id;
  if (auto error = wal::identify_system(cfg, id)) return error;
  system = id.system;
  o["system_id"] = id.system;
  o["timeline"] = id.timeline;
  o["slot"] = cfg.wal_slot;
  wal::slot_facts slot;
  if (auto error = wal::read_slot(cfg, slot)) return error;
  o["slot_state"] = slot_state(slot);
  o["slot_active"] = slot.active;
  if (!slot.wal_status.empty()) o["slot_wal_status"] = slot.wal_status;
  const auto server = std::max(slot.current_lsn, id.flush);
  o["server_lsn"] = format_lsn(server);
  if (slot.restart_lsn) {
    o["slot_restart_lsn"] = format_lsn(*slot.restart_lsn);
    if (server >= *slot.restart_lsn) o["slot_retained_bytes"] = server - *slot.restart_lsn;
  }
  return {};
}

// The receiver's side: its durable end and what each timeline holds.
net::awaitable<stage_error> add_receiver_facts(const settings& cfg, std::string system,
                                               json::object& o) {
  const auto ex = co_await net::this_coro::executor;
  auto client = make_receiver_client(ex, cfg);
  wal_api api(std::move(client), cfg.backup_api_token, system);
  wire::wal::archive_state state;
  auto error = co_await api.get_state(state);
  if (error) co_return error;
  const auto end = state.durable_end();
  if (!end) {
    o["archive"] = "empty (the receiver holds no WAL of this system)";
    co_return stage_error{};
  }
  o["durable_lsn"] = format_lsn(end->at);
  o["durable_timeline"] = end->timeline;
  const auto server = pgship::wal::parse_lsn(o["server_lsn"].as_string());
  if (server && end->timeline == o["timeline"].to_number<std::uint64_t>() && *server >= end->at) {
    o["lag_bytes"] = *server - end->at;
  }
  std::string spans;
  for (const auto& span : wal::check_continuity(state).spans) {
    if (!spans.empty()) spans += "; ";
    spans += wal::describe(span);
  }
  o["archive"] = spans;
  co_return stage_error{};
}

net::awaitable<int> status_without_daemon(const settings& cfg, bool as_json,
                                          std::string no_daemon) {
  json::object o;
  o["source"] = "PostgreSQL and the receiver (" + no_daemon + ")";
  std::string system;
  if (auto error = add_server_facts(cfg, o, system)) {
    std::cerr << "pgship-agent: " << error.message << "\n";
    co_return error.code.value();
  }
  stage_error receiver_error;
  if (cfg.upload) {
    receiver_error = co_await add_receiver_facts(cfg, system, o);
    if (receiver_error) o["last_error"] = receiver_error.message;
  } else {
    o["archive"] = "UPLOAD=off: no receiver to ask";
  }
  print(o, as_json);
  co_return receiver_error ? receiver_error.code.value() : 0;
}

}  // namespace

int command_wal_status(const settings& cfg, const wal_options& opts) {
  const std::string target = "/api/v1/wal";
  const std::string daemon = daemon_endpoint(cfg).host + ":" + daemon_endpoint(cfg).port;
  return run_command([&]() -> net::awaitable<int> {
    const auto reply = co_await get_from_daemon(cfg, target);
    std::string no_daemon;
    if (!reply.ok()) {
      no_daemon = "no daemon answered on " + daemon + ": " + reply.message;
    } else if (reply.status() != 200) {
      no_daemon = "the daemon on " + daemon + " answered " + std::to_string(reply.status()) +
                  (reply.status() == 404 ? ": WAL_STREAM is off there" : "");
    } else {
      boost::system::error_code ec;
      auto parsed = json::parse(reply.response.body(), ec);
      if (!ec && parsed.is_object()) {
        json::object o;
        o["source"] = "daemon on " + daemon;
        for (const auto& [key, value] : parsed.as_object())
          o[key] = value;
        print(o, opts.json);
        co_return 0;
      }
      no_daemon = "the daemon on " + daemon + " answered unreadable JSON";
    }
    co_return co_await status_without_daemon(cfg, opts.json, no_daemon);
  });
}

}  // namespace pgship::agent
