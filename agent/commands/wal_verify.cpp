// `pgship-agent wal verify`: whether the receiver's archive of this cluster is one contiguous
// run per timeline, from the oldest complete base backup's start (else its oldest WAL) to its
// newest durable point; recorded gaps are named with their reason.

#include <iostream>

#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <pgship/common/json_text.hpp>
#include <pgship/common/wal/wal_names.hpp>
#include <pgship/common/wire/wal.hpp>

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

// The system identifier the running daemon streams; "" when none answers with one.
net::awaitable<std::string> system_of_daemon(const settings& cfg) {
  const std::string target = "/api/v1/wal";
  const auto reply = co_await get_from_daemon(cfg, target);
  if (!reply.ok() || reply.status() != 200) co_return std::string();
  boost::system::error_code ec;
  const auto parsed = json::parse(reply.response.body(), ec);
  if (ec || !parsed.is_object()) co_return std::string();
  const auto* system = parsed.as_object().if_contains("system_id");
  if (!system || !system->is_string()) co_return std::string();
  co_return std::string(system->get_string());
}

json::object report_json(const std::string& system, const wal::continuity& c) {
  json::object o;
  o["system"] = system;
  o["ok"] = c.ok();
  json::array spans;
  for (const auto& s : c.spans) {
    spans.push_back(json::object{
        {"timeline", s.timeline}, {"from", format_lsn(s.from)}, {"to", format_lsn(s.to)}});
  }
  o["timelines"] = std::move(spans);
  json::array gaps;
  for (const auto& h : c.holes) {
    json::object g{
        {"timeline", h.timeline}, {"from", format_lsn(h.from)}, {"to", format_lsn(h.to)}};
    if (!h.reason.empty()) g["reason"] = h.reason;
    gaps.push_back(std::move(g));
  }
  o["gaps"] = std::move(gaps);
  if (c.from_backup) {
    o["from_basebackup"] = json::object{{"id", c.from_backup->id},
                                        {"timeline", c.from_backup->timeline},
                                        {"start_lsn", format_lsn(c.from_backup->start_lsn)}};
  } else {
    o["from_basebackup"] = nullptr;
  }
  return o;
}

void print_report(const std::string& system, const wal::continuity& c) {
  if (c.spans.empty()) {
    std::cout << "the receiver holds no WAL of system " << system << "\n";
    return;
  }
  std::string spans;
  for (const auto& s : c.spans) {
    if (!spans.empty()) spans += ", ";
    spans += wal::describe(s);
  }
  if (c.from_backup) {
    spans +=
        "; from base backup " + c.from_backup->id + " at " + format_lsn(c.from_backup->start_lsn);
  }
  if (c.ok()) {
    std::cout << "no gaps (" << spans << ")\n";
    return;
  }
  std::cout << c.holes.size() << (c.holes.size() == 1 ? " gap" : " gaps")
            << " in the archive of system " << system << " (" << spans << "):\n";
  for (const auto& h : c.holes)
    std::cout << "  " << wal::describe(h) << "\n";
}

}  // namespace

int command_wal_verify(const settings& cfg, const wal_options& opts) {
  if (!cfg.upload) {
    std::cerr << "pgship-agent: wal verify reads the receiver's archive, but UPLOAD=off\n";
    return static_cast<int>(errc::config_invalid);
  }
  return run_command([&]() -> net::awaitable<int> {
    // Which archive: --system, else the daemon's stream, else the server's IDENTIFY_SYSTEM.
    std::string system = opts.system;
    if (system.empty()) system = co_await system_of_daemon(cfg);
    if (system.empty()) {
      wal::server_identity id;
      if (auto error = wal::identify_system(cfg, id)) {
        std::cerr << "pgship-agent: cannot tell the cluster's system identifier (no daemon "
                     "streaming, and PostgreSQL: "
                  << error.message << "); give it with --system\n";
        co_return error.code.value();
      }
      system = id.system;
    }
    if (!wire::wal::is_system_id(system)) {
      std::cerr << "pgship-agent: --system must be a system identifier (decimal digits)\n";
      co_return static_cast<int>(errc::config_invalid);
    }
    const auto ex = co_await net::this_coro::executor;
    auto client = make_receiver_client(ex, cfg);
    wal_api api(std::move(client), cfg.backup_api_token, system);
    wire::wal::archive_state state;
    if (auto error = co_await api.get_state(state)) {
      std::cerr << "pgship-agent: " << error.message << "\n";
      co_return error.code.value();
    }
    const auto verdict = wal::check_continuity(state);
    if (opts.json) {
      std::cout << json_text(report_json(system, verdict)) << "\n";
    } else {
      print_report(system, verdict);
    }
    co_return verdict.ok() ? 0 : static_cast<int>(errc::wal_gap);
  });
}

}  // namespace pgship::agent
