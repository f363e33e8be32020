#include "pipeline/database_facts.hpp"
#include <algorithm>
#include <charconv>

namespace pgship::agent {
namespace {

std::uint64_t unsigned_of(const std::string& text) {
  std::uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::int64_t signed_of(const std::string& text) {
  std::int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// Materialization and compressed hypertables live in TimescaleDB's own schemas: storage, not
// the user's hypertables.
constexpr std::string_view hypertables_sql =
    "SELECT h.hypertable_schema, h.hypertable_name, h.num_chunks, "
    "(SELECT count(*) FROM timescaledb_information.chunks c "
    "WHERE c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name "
    "AND c.is_compressed) "
    "FROM timescaledb_information.hypertables h "
    "WHERE h.hypertable_schema NOT LIKE '\\_timescaledb%' ORDER BY 1, 2";

constexpr std::string_view jobs_sql =
    "SELECT job_id, proc_schema || '.' || proc_name, "
    "coalesce(hypertable_schema || '.' || hypertable_name, ''), schedule_interval::text, "
    "scheduled FROM timescaledb_information.jobs ORDER BY 1";

}  // namespace

std::optional<std::string> installed_extension(pg_connection& conn, std::string_view name,
                                               stage_error& error) {
  const auto rows = conn.query_rows(
      "SELECT extversion FROM pg_extension WHERE extname = " + conn.quote_literal(name), error);
  if (!rows || rows->empty()) return std::nullopt;
  return rows->front().front();
}

stage_error read_database_facts(pg_connection& conn, database_facts& out) {
  stage_error error;
  const auto extensions =
      conn.query_rows("SELECT extname, extversion FROM pg_extension ORDER BY 1", error);
  if (!extensions) return error;
  out = {};
  for (const auto& e : *extensions)
    out.extensions.push_back({e[0], e[1]});
  const auto ts = std::find_if(out.extensions.begin(), out.extensions.end(),
                               [](const auto& e) { return e.name == "timescaledb"; });
  if (ts == out.extensions.end()) return {};
  auto& facts = out.timescaledb.emplace();
  facts.version = ts->version;
  const auto hypertables = conn.query_rows(hypertables_sql, error);
  if (!hypertables) return error;
  for (const auto& h : *hypertables)
    facts.hypertables.push_back({h[0], h[1], unsigned_of(h[2]), unsigned_of(h[3])});
  const auto jobs = conn.query_rows(jobs_sql, error);
  if (!jobs) return error;
  for (const auto& j : *jobs)
    facts.jobs.push_back({signed_of(j[0]), j[1], j[2], j[3], j[4] == "t"});
  return {};
}

}  // namespace pgship::agent
