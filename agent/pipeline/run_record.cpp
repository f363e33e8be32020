#include "pipeline/run_record.hpp"
#include <algorithm>
#include <random>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <pgship/common/json_text.hpp>
#include <pgship/common/log.hpp>
#include <pgship/common/time_text.hpp>

namespace pgship::agent {
namespace json = boost::json;

bool run_record::cancelled() const {
  return error.code == make_error_code(errc::cancelled);
}

std::string_view result_name(const stage_error& error) {
  if (!error.failed()) return "ok";
  if (error.code == make_error_code(errc::cancelled)) return "cancelled";
  if (error.code == make_error_code(errc::run_in_progress)) return "skipped";
  return "failed";
}

bool counts_as_backup_result(const stage_error& error) {
  const auto result = result_name(error);
  return result == "ok" || result == "failed";
}

double run_record::seconds() const {
  return std::chrono::duration<double>(finished - started).count();
}

std::string new_run_id(std::chrono::system_clock::time_point now) {
  std::string stamp = format_utc(now);  // 2026-11-21T03:00:00Z
  std::erase(stamp, '-');
  std::erase(stamp, ':');
  std::random_device rd;
  return fmt::format("{}-{:06x}", stamp, rd() & 0xffffff);
}

bool is_run_id(std::string_view t) {
  const auto all = [&](std::size_t from, std::size_t n, bool hex) {
    return std::all_of(t.begin() + from, t.begin() + from + n, [hex](char c) {
      return (c >= '0' && c <= '9') || (hex && c >= 'a' && c <= 'f');
    });
  };
  // 20261121T030000Z-3f9a1c
  return t.size() == 23 && all(0, 8, false) && t[8] == 'T' && all(9, 6, false) && t[15] == 'Z' &&
         t[16] == '-' && all(17, 6, true);
}

namespace {

json::object error_object(const stage_error& e) {
  json::object o;
  o["code"] = error_name(static_cast<errc>(e.code.value()));
  o["exit_code"] = e.code.value();
  o["message"] = e.message;
  return o;
}

}  // namespace

std::string to_json(const run_record& run) {
  json::array dbs;
  for (const auto& d : run.databases) {
    json::array stages;
    for (const auto& s : d.stages) {
      stages.push_back(json::object{{"name", s.name},
                                    {"started", format_utc(s.started, true)},
                                    {"seconds", round_to_millis(s.seconds)},
                                    {"bytes", s.bytes},
                                    {"ok", s.ok}});
    }
    json::object o{{"database", d.database},
                   {"backup", d.backup},
                   {"size", d.size},
                   {"sha256", d.sha256},
                   {"database_size", d.database_size},
                   {"server_version", d.server_version},
                   {"pg_dump_version", d.pg_dump_version},
                   {"uploaded", d.uploaded},
                   {"upload_bytes_sent", d.upload.bytes_sent},
                   {"upload_retries", d.upload.retries},
                   {"upload_resumes", d.upload.resumes},
                   {"local_backups", d.local_backups},
                   {"result", result_name(d.error)},
                   {"stages", std::move(stages)}};
    // What the entry backed up, when not a database: the same name may be both.
    if (d.archive) o["kind"] = "archive";
    if (d.globals) o["kind"] = "globals";
    if (run.kind == "basebackup") o["kind"] = "basebackup";
    if (run.kind == "pitr_drill") o["kind"] = "pitr_drill";
    if (d.drill) {
      const auto& r = *d.drill;
      json::array mismatches;
      for (const auto& m : r.mismatches)
        mismatches.emplace_back(m);
      o["drill"] = json::object{{"scratch_database", r.scratch_database},
                                {"row_counts", r.row_counts},
                                {"tables", r.tables},
                                {"rows", r.rows},
                                {"mismatches", std::move(mismatches)},
                                {"recovery_seconds", round_to_millis(r.recovery_seconds)},
                                {"kept", r.kept}};
      if (!r.note.empty()) o["drill"].as_object()["note"] = r.note;
      if (!r.target.empty()) {
        auto& pitr = o["drill"].as_object();
        pitr["target"] = r.target;
        pitr["recovered_to"] = r.recovered_to;
        if (r.recovered_to_ms > 0) pitr["recovered_to_ms"] = r.recovered_to_ms;
        pitr["indexes_checked"] = r.indexes_checked;
      }
    }
    if (d.error.failed()) o["error"] = error_object(d.error);
    dbs.push_back(std::move(o));
  }
  json::object o{{"run_id", run.run_id},
                 {"kind", run.kind},
                 {"trigger", run.trigger},
                 {"started", format_utc(run.started, true)},
                 {"finished", format_utc(run.finished, true)},
                 {"seconds", round_to_millis(run.seconds())},
                 {"result", result_name(run.error)},
                 {"databases", std::move(dbs)}};
  if (!run.log_file.empty()) o["log_file"] = run.log_file;
  if (run.error.failed()) o["error"] = error_object(run.error);
  if (!run.stalls.empty()) {
    json::array stalls;
    for (const auto& st : run.stalls) {
      stalls.push_back(json::object{{"database", st.database},
                                    {"stage", st.stage},
                                    {"seconds", round_to_millis(st.seconds)},
                                    {"bytes", st.bytes}});
    }
    o["stalls"] = std::move(stalls);
  }
  return json_text(o);
}

void log_summary(const run_record& run) {
  std::uint64_t bytes = 0;
  std::string names;
  for (const auto& d : run.databases) {
    bytes += d.size;
    if (!names.empty()) names += ",";
    names += d.database;
  }
  std::vector<log::field> fields = {{"run_id", run.run_id},
                                    {"trigger", run.trigger},
                                    {"result", result_name(run.error)},
                                    {"databases", names},
                                    {"bytes", bytes},
                                    {"seconds", round_to_millis(run.seconds())}};
  if (!run.log_file.empty()) fields.emplace_back("log_file", run.log_file);
  const std::string what = run.kind == "drill"        ? "restore drill"
                           : run.kind == "pitr_drill" ? "PITR drill"
                                                      : "backup run";
  if (run.ok()) {
    log::write(spdlog::level::info, what + " succeeded", fields);
    return;
  }
  fields.emplace_back("error", error_name(static_cast<errc>(run.error.code.value())));
  fields.emplace_back("exit_code", run.error.code.value());
  if (!counts_as_backup_result(run.error)) {
    log::write(spdlog::level::warn,
               what + " " + std::string(result_name(run.error)) + ": " + run.error.message, fields);
    return;
  }
  log::write(spdlog::level::err, what + " failed: " + run.error.message, fields);
}

void note_database_error(run_record& run, const database_run& d, const log::context& lg,
                         std::string_view job) {
  if (!d.error) return;
  const auto dl = lg.with(
      {{"database", d.database}, {"error", error_name(static_cast<errc>(d.error.code.value()))}});
  if (d.error.code == make_error_code(errc::cancelled)) {
    dl.warn("{} of {} cancelled: {}", job, d.database, d.error.message);
  } else {
    dl.error("{} of {} failed: {}", job, d.database, d.error.message);
  }
  if (!run.error) run.error = d.error;
}

run_record finish_run(run_record& run, stage_error error) {
  if (error && !run.error) run.error = std::move(error);
  for (auto& d : run.databases) {
    if (!d.error && !d.stepped && run.error) d.error = run.error;
  }
  run.finished = std::chrono::system_clock::now();
  log_summary(run);
  return std::move(run);
}

}  // namespace pgship::agent
