#include "daemon/daemon_state.hpp"
#include <algorithm>
#include <cmath>
#include <functional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/time_text.hpp>

#include "daemon/history_results.hpp"
#include "daemon/wal_report.hpp"
#include "drill/drill_run.hpp"
#include "drill/pitr_drill.hpp"
#include "pipeline/backup_run.hpp"
#include "pipeline/basebackup_run.hpp"
#include "pipeline/progress_watch.hpp"
#include "repository/local_listing.hpp"

namespace pgship::agent {

namespace net = boost::asio;
namespace json = boost::json;
using sys_clock = std::chrono::system_clock;

daemon_state::daemon_state(net::any_io_executor ex, settings cfg, cron_expr cron)
    : ex_(std::move(ex)),
      cfg_(std::make_shared<const settings>(std::move(cfg))),
      cron_(std::make_shared<const cron_expr>(std::move(cron))),
      metrics_(cfg_->databases, cfg_->legacy_metrics),
      history_(cfg_->backup_dir / run_history_file) {
  for (const auto& db : cfg_->databases)
    health_[db];
}

void daemon_state::reconfigure(settings cfg, cron_expr cron) {
  cfg_ = std::make_shared<const settings>(std::move(cfg));
  cron_ = std::make_shared<const cron_expr>(std::move(cron));
  for (const auto& db : cfg_->databases)
    health_[db];
  // A database no longer configured no longer decides health.
  std::erase_if(health_, [this](const auto& entry) {
    return std::find(cfg_->databases.begin(), cfg_->databases.end(), entry.first) ==
           cfg_->databases.end();
  });
}

void daemon_state::restore_from_history() {
  metrics_.repo_size(local_backup_bytes(cfg_->backup_dir));
  const int interrupted = history_.load();
  if (interrupted > 0) {
    log::write(spdlog::level::warn,
               std::to_string(interrupted) +
                   " run(s) were still active when the agent stopped "
                   "last time: recorded as interrupted",
               {});
  }
  apply_history();
  refresh_local_backups();
}

void daemon_state::sync() {
  history_.reload_if_changed();
  if (history_.generation() != applied_generation_) apply_history();
  refresh_local_backups();
  if (wal_ != nullptr) metrics_.wal_known(wal_metrics_of(wal_->status()));
}

void daemon_state::refresh_local_backups() {
  // While a run uploads, its own backup is pending for as long as the upload takes (hours for
  // a large one under UPLOAD_RATE_LIMIT): the gauges keep what the last finished run left.
  if (running()) return;
  for (const auto& db : cfg_->databases) {
    metrics_.local_backups_known(db, summarize_local_backups(cfg_->backup_dir, db, cfg_->upload));
  }
}

void daemon_state::note_result(result_health& h, bool ok, std::string error,
                               std::optional<sys_clock::time_point> at) {
  h.ran = true;
  h.ok = ok;
  h.error = ok ? std::string() : std::move(error);
  if (ok && at) h.last_success = *at;
}

json::object daemon_state::result_object(const result_health& h) {
  json::object o{{"ok", h.ok}};
  if (h.last_success) o["last_success"] = format_utc(*h.last_success);
  if (!h.error.empty()) o["error"] = h.error;
  return o;
}

void daemon_state::apply_history() {
  applied_generation_ = history_.generation();
  const auto results = history_results(history_.newest(500));
  for (const auto& r : results) {
    if (r.of == history_result::subject::globals) {
      note_result(globals_, r.ok, r.error, r.at);
      continue;
    }
    if (r.of == history_result::subject::basebackup) continue;
    if (r.of == history_result::subject::pitr_drill) {
      note_result(pitr_drill_, r.ok, r.error, r.at);
      continue;
    }
    auto found = health_.find(r.database);
    if (found == health_.end()) continue;
    note_result(r.of == history_result::subject::drill ? found->second.drill : found->second.backup,
                r.ok, r.error, r.at);
  }
  apply_history_results(results, cfg_->databases, metrics_);
}

std::string daemon_state::begin_job(const std::string& kind, const std::string& trigger,
                                    const std::vector<std::string>& databases) {
  const auto now = sys_clock::now();
  const auto id = new_run_id(now);
  active_run_ = id;
  control_ = std::make_shared<run_control>();
  metrics_.run_started();
  json::array names;
  for (const auto& db : databases.empty() ? cfg_->databases : databases)
    names.emplace_back(db);
  history_.put(json::object{{"run_id", id},
                            {"kind", kind},
                            {"trigger", trigger},
                            {"started", format_utc(now, true)},
                            {"result", "running"},
                            {"databases_requested", std::move(names)}});
  return id;
}

template <class Request>
std::optional<std::string> daemon_state::start_job(const std::string& kind, const Request& request,
                                                   std::string& active, job_body body) {
  if (running()) {
    active = active_run_;
    return std::nullopt;
  }
  const auto id = begin_job(kind, request.trigger, request.databases);
  auto control = control_;
  auto cfg = cfg_;  // a reload during the job does not change it under its feet
  net::co_spawn(
      ex_,
      [this, body = std::move(body), id, control, cfg, kind]() -> net::awaitable<void> {
        progress_watch watch(ex_, control->progress, progress_mode::never, kind,
                             log::context{{"run_id", id}});
        auto record = co_await body(id, *cfg, *control);
        watch.stop();
        record.stalls = watch.stalls();
        finished(record);
      },
      [this, kind](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::write(spdlog::level::critical, kind + " job crashed: " + ex.what(), {});
        }
        active_run_.clear();
        metrics_.run_started();  // stays visible as stuck rather than silently idle
      });
  return id;
}

std::optional<std::string> daemon_state::start_run(const std::string& trigger,
                                                   std::vector<std::string> databases,
                                                   std::string& active) {
  auto request = std::make_shared<run_request>();
  request->trigger = trigger;
  request->databases = std::move(databases);
  return start_job("backup", *request, active,
                   [request](const std::string& id, const settings& cfg, run_control& control) {
                     request->run_id = id;
                     return run_backup(cfg, *request, control);
                   });
}

std::optional<std::string> daemon_state::start_drill(const std::string& trigger,
                                                     std::vector<std::string> databases,
                                                     std::string& active) {
  auto request = std::make_shared<drill_request>();
  request->trigger = trigger;
  request->databases = std::move(databases);
  return start_job("drill", *request, active,
                   [request](const std::string& id, const settings& cfg, run_control& control) {
                     request->run_id = id;
                     request->jobs = cfg.drill_jobs;
                     return run_drill(cfg, *request, control);
                   });
}

std::optional<std::string> daemon_state::start_basebackup(const std::string& trigger,
                                                          std::string& active) {
  // What start_job records of the job: its trigger, and the cluster as what it backs up.
  struct job_start {
    std::string trigger;
    std::vector<std::string> databases{std::string(basebackup_name)};
  };
  auto request = std::make_shared<basebackup_request>();
  request->trigger = trigger;
  return start_job("basebackup", job_start{trigger}, active,
                   [request](const std::string& id, const settings& cfg, run_control& control) {
                     request->run_id = id;
                     return run_basebackup(cfg, *request, control);
                   });
}

std::optional<std::string> daemon_state::start_pitr_drill(const std::string& trigger,
                                                          const std::string& at,
                                                          std::string& active) {
  struct job_start {
    std::string trigger;
    std::vector<std::string> databases{std::string(basebackup_name)};
  };
  auto request = std::make_shared<pitr_drill_request>();
  request->trigger = trigger;
  request->at = at;
  return start_job("pitr_drill", job_start{trigger}, active,
                   [request](const std::string& id, const settings& cfg, run_control& control) {
                     request->run_id = id;
                     return run_pitr_drill(cfg, *request, control);
                   });
}

void daemon_state::want_basebackup(const std::string& trigger, const std::string& why) {
  std::string active;
  if (const auto id = start_basebackup(trigger, active)) {
    log::write(spdlog::level::warn, "base backup " + *id + " started (" + trigger + "): " + why,
               {{"run_id", *id}, {"trigger", trigger}});
    return;
  }
  wanted_basebackup_ = std::make_pair(trigger, why);
  log::write(
      spdlog::level::warn,
      "base backup wanted (" + trigger + "): " + why + "; queued until run " + active + " ends",
      {{"trigger", trigger}, {"active_run", active}});
}

void daemon_state::retry_wanted(const run_record& run) {
  const bool wanted = run.trigger == "wal-gap" || run.trigger == "wal-start";
  const bool failed = run.databases.empty() || static_cast<bool>(run.databases.front().error);
  if (run.kind != "basebackup" || !wanted || !failed) return;
  const auto why =
      run.databases.empty() ? std::string("it did not run") : run.databases.front().error.message;
  log::write(spdlog::level::warn,
             "base backup " + run.run_id + " (" + run.trigger + ") failed: " + why +
                 "; trying again in " + std::to_string(basebackup_retry.count()) + " s",
             {{"run_id", run.run_id}, {"trigger", run.trigger}});
  auto timer = std::make_shared<net::steady_timer>(ex_, basebackup_retry);
  timer->async_wait([this, timer, trigger = run.trigger](boost::system::error_code ec) {
    if (ec) return;
    if (!wanted_basebackup_) want_basebackup(trigger, "retry after a failed base backup");
  });
}

void daemon_state::finished(const run_record& run) {
  active_run_.clear();
  control_.reset();
  if (notify_) notify_(run);
  retry_wanted(run);
  if (wanted_basebackup_) {
    // Started once this job's completion has run to its end.
    net::post(ex_, [this] {
      if (!wanted_basebackup_) return;
      const auto [trigger, why] = *wanted_basebackup_;
      wanted_basebackup_.reset();
      want_basebackup(trigger, why);
    });
  }
  metrics_.run_finished(run);
  metrics_.repo_size(local_backup_bytes(cfg_->backup_dir));
  refresh_local_backups();
  boost::system::error_code ec;
  auto value = json::parse(to_json(run), ec);
  if (!ec && value.is_object()) {
    history_.put(std::move(value.as_object()));
  }
  for (const auto& d : run.databases) {
    if (run.kind == "pitr_drill" && counts_as_backup_result(d.error)) {
      note_result(pitr_drill_, !d.error, d.error.message, run.finished);
    }
    // A base backup's or PITR drill's entry is the cluster's, no database's.
    if (run.kind == "basebackup" || run.kind == "pitr_drill") break;
    if (d.archive || !counts_as_backup_result(d.error)) continue;
    // The globals entry is not the health of a database that may also be called globals.
    if (d.globals) {
      note_result(globals_, !d.error, d.error.message, run.finished);
      continue;
    }
    auto found = health_.find(d.database);
    if (found == health_.end()) continue;  // no longer configured (SIGHUP during the run)
    auto& h = run.kind == "drill" ? found->second.drill : found->second.backup;
    h.ran = true;
    h.ok = !d.error;
    h.error = d.error.message;
    if (h.ok) h.last_success = run.finished;
  }
  write_textfile();
}

void daemon_state::write_textfile() {
  if (!cfg_->metrics_textfile) return;
  metrics_.write_textfile(*cfg_->metrics_textfile);
}

std::optional<json::object> daemon_state::live_progress() const {
  if (!control_ || control_->progress.stage.empty()) return std::nullopt;
  const auto& p = control_->progress;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - p.stage_started).count();
  json::object o;
  o["database"] = p.database;
  o["stage"] = p.stage;
  o["bytes"] = p.bytes;
  if (p.total > 0) o["total"] = p.total;
  o["stage_seconds"] = round_to_millis(secs);
  o["bytes_per_second"] = secs > 0 ? std::round(static_cast<double>(p.bytes) / secs) : 0.0;
  return o;
}

void daemon_state::stop_active() {
  if (control_) control_->request_stop();
}

net::awaitable<void> daemon_state::wait_idle(std::chrono::milliseconds limit) {
  net::steady_timer timer(co_await net::this_coro::executor);
  const auto until = std::chrono::steady_clock::now() + limit;
  while (running() && std::chrono::steady_clock::now() < until) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(net::use_awaitable);
  }
}

std::chrono::seconds daemon_state::max_age(sys_clock::time_point now) const {
  if (cfg_->health_max_age) {
    return std::chrono::duration_cast<std::chrono::seconds>(*cfg_->health_max_age);
  }
  const auto period = longest_period(*cron_, now);
  return period ? 2 * *period : std::chrono::seconds(2 * 86400);
}

health_report daemon_state::health(sys_clock::time_point now) const {
  const auto limit = max_age(now);
  std::vector<std::string> problems;
  bool all_ran = true;
  json::object dbs;
  for (const auto& [name, both] : health_) {
    const auto& h = both.backup;
    json::object o{{"ran", h.ran}, {"ok", h.ok}};
    if (h.last_success) {
      o["last_success"] = format_utc(*h.last_success);
      o["age_seconds"] =
          std::chrono::duration_cast<std::chrono::seconds>(now - *h.last_success).count();
    }
    if (!h.error.empty()) o["error"] = h.error;
    if (both.drill.ran) o["drill"] = result_object(both.drill);
    dbs[name] = std::move(o);
    if (!h.ran) {
      all_ran = false;
      if (now - started_ > limit) problems.push_back("no backup of " + name + " yet");
    } else if (!h.ok) {
      problems.push_back("last backup of " + name + " failed: " + h.error);
    } else if (h.last_success && now - *h.last_success > limit) {
      problems.push_back("last successful backup of " + name + " is older than " +
                         std::to_string(limit.count()) + " s");
    }
    // A backup that does not come back is no backup.
    if (both.drill.ran && !both.drill.ok) {
      problems.push_back("last restore drill of " + name + " failed: " + both.drill.error);
    }
  }
  // Without the roles, scenario 1 (server lost) restores databases whose owners do not exist.
  if (globals_.ran && !globals_.ok) {
    problems.push_back("last GLOBALS backup (roles) failed: " + globals_.error);
  }
  // A physical archive that does not come back is no archive.
  if (pitr_drill_.ran && !pitr_drill_.ok) {
    problems.push_back("last PITR drill failed: " + pitr_drill_.error);
  }
  std::optional<json::object> wal_part;
  if (wal_ != nullptr) {
    const auto st = wal_->status();
    for (auto& p : wal_problems(st, cfg_->wal_max_lag))
      problems.push_back(std::move(p));
    wal_part = wal_status_json(st);
  }
  std::string reason;
  for (const auto& p : problems)
    reason += (reason.empty() ? "" : "; ") + p;
  json::object body{{"status", !problems.empty() ? "failing"
                               : all_ran         ? "ok"
                                                 : "starting"},
                    {"databases", std::move(dbs)},
                    {"run_in_progress", running()},
                    {"max_age_seconds", limit.count()}};
  if (!reason.empty()) body["reason"] = reason;
  if (globals_.ran) body["globals"] = result_object(globals_);
  if (pitr_drill_.ran) body["pitr_drill"] = result_object(pitr_drill_);
  if (running()) body["active_run"] = active_run_;
  if (wal_part) body["wal"] = std::move(*wal_part);
  return {problems.empty(), json_text(body)};
}

}  // namespace pgship::agent
