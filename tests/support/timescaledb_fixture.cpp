#include "timescaledb_fixture.hpp"
#include <algorithm>
#include <iostream>
#include <thread>

#include <boost/json/parse.hpp>
#include <sys/stat.h>

namespace pgship::test {

namespace json = boost::json;
namespace stdfs = std::filesystem;
using namespace std::chrono_literals;

void timescaledb_fixture::SetUp() {
  PGSHIP_REQUIRE_TIMESCALEDB();
  daemon_fixture::SetUp();
}

void timescaledb_fixture::TearDown() {
  // daemon_fixture shows the daemon's log, which only a test that started one has.
  if (daemon_.pid > 0 || stdfs::exists(dir_ / "agent.log")) {
    daemon_fixture::TearDown();
  } else {
    agent_fixture::TearDown();
  }
}

void timescaledb_fixture::create_fixture_database(const std::string& name,
                                                  const timescaledb_fixture_options& options) {
  if (!timescaledb_missing().empty()) return;
  const auto started = std::chrono::steady_clock::now();
  load_timescaledb_fixture(ts(), name, options);
  std::cerr << "timing: TimescaleDB fixture " << name << " loaded in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
            << " s\n";
}

std::map<std::string, std::string> timescaledb_fixture::ts_config(
    const std::string& databases, const std::map<std::string, std::string>& overrides,
    pg_cluster* server) {
  return agent_config(databases, overrides, server);
}

std::string timescaledb_fixture::backup(const std::map<std::string, std::string>& config,
                                        const std::string& file) {
  const auto dir = stdfs::path(config.at("BACKUP_DIR"));
  const auto database = config.at("POSTGRES_DB");
  const auto before = newest_backup(dir, database);
  // The second after the previous backup's, so names never collide.
  static std::chrono::system_clock::time_point previous;
  const auto next_second = std::chrono::floor<std::chrono::seconds>(previous) + 1s + 50ms;
  std::this_thread::sleep_until(next_second);
  const auto r = run_agent({"backup", "--config", write_config(config, file).string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  previous = std::chrono::system_clock::now();
  const auto name = newest_backup(dir, database);
  EXPECT_NE(name, before) << "no new backup in " << dir << "\n" << r.out << r.err;
  return name;
}

std::string timescaledb_fixture::newest_backup(const stdfs::path& dir,
                                               const std::string& database) {
  std::vector<std::string> names;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (!name.starts_with(database + "-")) continue;
    for (const char* ext : {".dump", ".dump.zst", ".dump.age", ".dump.zst.age"}) {
      if (name.ends_with(ext) &&
          name.size() == database.size() + 16 + std::char_traits<char>::length(ext)) {
        names.push_back(name);
      }
    }
  }
  // <database>-YYYYMMDD-HHMMSS: the name's stamp orders them.
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return a.substr(0, database.size() + 16) < b.substr(0, database.size() + 16);
  });
  return names.empty() ? "" : names.back();
}

json::object timescaledb_fixture::manifest_of(const stdfs::path& dir, const std::string& name) {
  const auto stem = name.substr(0, name.find(".dump"));
  return json::parse(read_file(dir / (stem + ".json"))).as_object();
}

std::string timescaledb_fixture::receiver_manifest(const std::string& name) {
  const auto res =
      http_send(receiver_->port(), {.target = "/api/backup/download/" + name + ".manifest",
                                    .headers = {{"Authorization", "Bearer " + token_}}});
  EXPECT_EQ(res.result_int(), 200)
      << "GET /api/backup/download/" << name << ".manifest: " << res.body();
  return res.result_int() == 200 ? res.body() : "";
}

std::pair<stdfs::path, std::string> timescaledb_fixture::new_age_identity(const std::string& name) {
  const auto path = dir_ / name;
  const auto made = run_process({"age-keygen", "-o", path.string()});
  EXPECT_TRUE(made.ok()) << made.err;
  ::chmod(path.c_str(), 0600);
  const auto r = run_process({"age-keygen", "-y", path.string()});
  EXPECT_TRUE(r.ok()) << r.err;
  return {path, r.out.substr(0, r.out.find('\n'))};
}

void timescaledb_fixture::expect_restored_like_source(const std::string& source,
                                                      const std::string& copy, pg_cluster& server) {
  SCOPED_TRACE(copy + " against " + source);
  const auto relations = timescaledb_fixture_relations();
  EXPECT_EQ(exact_counts(server, copy, relations), exact_counts(ts(), source, relations));
  EXPECT_EQ(compressed_chunks(server, copy), compressed_chunks(ts(), source));
  EXPECT_GT(compressed_chunks(server, copy), 0u);
  EXPECT_EQ(jobs_signature(server, copy), jobs_signature(ts(), source));
  EXPECT_EQ(installed_timescaledb(server, copy), timescaledb_version);
  // The restored root tables hold no rows of their own: every row is in a chunk.
  for (const char* table : {"trades", "quotes"}) {
    EXPECT_EQ(server.query_value(copy, std::string("SELECT count(*) FROM ONLY ") + table), "0")
        << table;
    expect_insert_lands_in_a_chunk(server, copy, table);
  }
}

void timescaledb_fixture::expect_insert_lands_in_a_chunk(pg_cluster& server,
                                                         const std::string& database,
                                                         const std::string& table) {
  // Three days ahead: no chunk holds that day yet, so the insert must create one.
  const std::string row =
      table == "trades"
          ? "INSERT INTO trades (time, ticket, instrument_id, account_id, side, price, qty, "
            "commission) VALUES (now() + interval '3 days', 999999999, 1, 1, 'B', 1.1, 1, 0)"
          : "INSERT INTO quotes (time, instrument_id, bid, ask, bid_size, ask_size) "
            "VALUES (now() + interval '3 days', 1, 1.1, 1.2, 100000, 100000)";
  std::string landed;
  try {
    landed = server.query_value(
        database,
        "WITH i AS (" + row + " RETURNING tableoid::regclass::text AS t) SELECT t FROM i");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "insert into " << table << " of " << database << " failed: " << e.what();
    return;
  }
  EXPECT_NE(landed, table) << "the row went into the root table: the hypertable is not working";
  const auto chunks = server.query_value(
      database, "SELECT string_agg(c::text, ',') FROM show_chunks('" + table + "') c");
  EXPECT_NE(("," + chunks + ",").find("," + landed + ","), std::string::npos)
      << landed << " is not among the chunks of " << table << ": " << chunks;
}

}  // namespace pgship::test
