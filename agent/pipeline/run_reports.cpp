#include "pipeline/run_reports.hpp"

#include <boost/asio/this_coro.hpp>

#include <pgship/common/host_name.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/redact_url.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/utf8.hpp>
#include <pgship/common/version.hpp>

#include "net/receiver_api.hpp"
#include "pipeline/backup_prep.hpp"
#include "schedule/cron.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr auto report_timeout = std::chrono::seconds(10);

}  // namespace

std::vector<wire::report> reports_of(const settings& cfg, const run_record& run) {
  std::vector<wire::report> out;
  if (run.kind == "drill" || run.kind == "pitr_drill") {
    for (const auto& d : run.databases) {
      // Cancelled and skipped drills say nothing; a drill refused before it knew its database
      // (an unknown --id) has none to report under.
      if ((d.error && !counts_as_backup_result(d.error)) || d.database.empty()) continue;
      wire::drill_report r;
      r.database = d.database;
      r.backup = d.backup;
      r.drill = run.kind == "pitr_drill" ? "pitr" : "logical";
      r.result = d.error ? "failed" : "ok";
      r.run_id = run.run_id;
      r.finished = format_utc(run.finished);
      r.error = d.error ? utf8_prefix(d.error.message, wire::report_text_max) : std::string();
      if (d.drill) {
        r.recovery_seconds = d.drill->recovery_seconds;
        r.rows = d.drill->rows;
        r.tables = d.drill->tables;
        r.mismatches = d.drill->mismatches.size();
        r.recovered_to = d.drill->recovered_to;
      }
      out.push_back({std::move(r), std::nullopt});
    }
  }
  wire::schedule_report s;
  s.host = host_name();
  s.version = std::string(version);
  s.schedule = cfg.schedule;
  s.drill_schedule = cfg.drill_schedule;
  s.pitr_drill_schedule = cfg.pitr_drill_schedule;
  s.time_zone = cfg.time_zone;
  std::string why;
  if (const auto cron = parse_cron(cfg.schedule, why)) {
    if (const auto period = longest_period(*cron, std::chrono::system_clock::now()))
      s.interval_seconds = static_cast<std::uint64_t>(period->count());
  }
  s.databases = cfg.databases;
  s.reported = format_utc(std::chrono::system_clock::now());
  out.push_back({std::nullopt, std::move(s)});
  return out;
}

net::awaitable<void> send_reports(settings cfg, run_record run) {
  if (!cfg.upload || cfg.backup_api_url.empty()) co_return;
  const auto reports = reports_of(cfg, run);
  const auto ex = co_await net::this_coro::executor;
  // Short: a receiver that does not answer has made the run fail already.
  auto client = make_receiver_client(ex, cfg, report_timeout);
  if (!client) co_return;
  const log::context lg{{"run_id", run.run_id}};
  for (const auto& r : reports) {
    http_request request{http::verb::post,
                         client->endpoint().target(std::string(wire::reports_path)), 11};
    request.set(http::field::authorization, "Bearer " + cfg.backup_api_token);
    request.set(http::field::content_type, "application/json");
    request.body() = wire::encode_report(r);
    request.prepare_payload();
    const auto reply = co_await client->send(std::move(request));
    if (!reply.ok() || reply.status() != 201) {
      // A receiver from before reports answers 404: the status page is then all it misses.
      lg.warn("the receiver at {} did not take the {} report: {}", redact_url(cfg.backup_api_url),
              r.drill ? "drill" : "schedule",
              reply.ok() ? "HTTP " + std::to_string(reply.status()) : reply.message);
      if (!reply.ok()) co_return;  // unreachable: the next report would wait as long
    }
  }
}

}  // namespace pgship::agent
