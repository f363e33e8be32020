// pgship on a real TimescaleDB (2.28.3, preloaded) with a database shaped like the trading
// platform's (tests/support/timescaledb_fixture.sql.hpp): what a backup's manifest records
// (extensions, the `timescaledb` section, one `tables` list with kinds, counted at hypertable
// roots and through continuous aggregates, never TimescaleDB's storage), what `restore
// --create` brings back (every count, compressed chunks still compressed, the jobs as
// scheduled, hypertables that still route rows into chunks), the refusal of a server without
// the backup's TimescaleDB version, and pg_restore's own ERROR: line when it fails.

#include <algorithm>
#include <set>
#include <sstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "timescaledb_fixture.hpp"

namespace pgship::test {
namespace {

namespace json = boost::json;
namespace stdfs = std::filesystem;

const std::string source_db = "tsdb";

class TimescaleBackup : public timescaledb_fixture {
 protected:
  static void SetUpTestSuite() { create_fixture_database(source_db); }

  // Seconds of an interval as the manifest gives it: a number, or any text PostgreSQL reads
  // as an interval ("12:00:00", "12 hours", "PT12H").
  double seconds_of(const json::value& v) {
    if (v.is_number()) return v.to_number<double>();
    if (!v.is_string()) return -1;
    const std::string text(v.as_string());
    if (text.find('\'') != std::string::npos) return -1;
    try {
      return std::stod(ts().query_value(
          "postgres", "SELECT extract(epoch FROM '" + text + "'::interval)::float8"));
    } catch (const std::exception&) {
      return -1;
    }
  }

  static std::string text(const json::value& v) {
    return v.is_string() ? std::string(v.as_string())
                         : "(not a string: " + json::serialize(v) + ")";
  }

  // "name" or "schema.name" (the manifest may qualify names) matches `name` in `schema`.
  static bool names(const json::value& v, const std::string& schema, const std::string& name) {
    if (!v.is_string()) return false;
    const std::string given(v.as_string());
    return given == name || given == schema + "." + name;
  }

  // Everything the DESIGN says a TimescaleDB manifest holds, against the source database.
  void expect_timescaledb_manifest(const json::object& m, const std::string& mode) {
    SCOPED_TRACE(json::serialize(m));
    // extensions: [{name, version}], timescaledb at the installed version.
    bool found = false;
    for (const auto& e : m.at("extensions").as_array()) {
      if (e.as_object().at("name") == "timescaledb") {
        EXPECT_EQ(text(e.as_object().at("version")), timescaledb_version);
        found = true;
      }
    }
    EXPECT_TRUE(found) << "no timescaledb in extensions";

    const auto& tsdb = m.at("timescaledb").as_object();
    EXPECT_EQ(text(tsdb.at("version")), timescaledb_version);
    for (const std::string table : {"trades", "quotes"}) {
      const auto chunks = std::stoull(ts().query_value(
          source_db,
          "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = '" + table +
              "'"));
      const auto compressed =
          std::stoull(ts().query_value(source_db,
                                       "SELECT count(*) FROM timescaledb_information.chunks WHERE "
                                       "hypertable_name = '" +
                                           table + "' AND is_compressed"));
      int listed = 0;
      for (const auto& h : tsdb.at("hypertables").as_array()) {
        const auto& o = h.as_object();
        if (o.at("schema") != "public" || o.at("name") != table.c_str()) continue;
        ++listed;
        EXPECT_EQ(o.at("chunks").to_number<std::uint64_t>(), chunks) << table;
        EXPECT_EQ(o.at("compressed_chunks").to_number<std::uint64_t>(), compressed) << table;
      }
      EXPECT_EQ(listed, 1) << "hypertable " << table;
    }
    // Every job of the source's (the user's jobs: id >= 1000) with what schedules it.
    const auto jobs = ts().query_value(
        source_db,
        "SELECT string_agg(concat_ws('|', job_id, proc_schema, proc_name, "
        "coalesce(hypertable_schema, ''), coalesce(hypertable_name, ''), "
        "extract(epoch FROM schedule_interval)::bigint, scheduled), E'\\n' ORDER BY job_id) "
        "FROM timescaledb_information.jobs WHERE job_id >= 1000");
    std::istringstream lines(jobs);
    int expected_jobs = 0;
    for (std::string line; std::getline(lines, line);) {
      ++expected_jobs;
      std::vector<std::string> f;
      std::istringstream fields(line);
      for (std::string x; std::getline(fields, x, '|');)
        f.push_back(x);
      f.resize(7);
      SCOPED_TRACE("job " + line);
      const json::object* job = nullptr;
      for (const auto& j : tsdb.at("jobs").as_array()) {
        if (j.as_object().at("id").to_number<std::int64_t>() == std::stoll(f[0]))
          job = &j.as_object();
      }
      ASSERT_NE(job, nullptr) << "job " << f[0] << " is not in the manifest";
      EXPECT_TRUE(names(job->at("proc"), f[1], f[2])) << json::serialize(*job);
      if (f[4].empty()) {
        const auto* h = job->if_contains("hypertable");
        EXPECT_TRUE(h == nullptr || h->is_null() || (h->is_string() && h->as_string().empty()))
            << json::serialize(*job);
      } else {
        EXPECT_TRUE(names(job->at("hypertable"), f[3], f[4])) << json::serialize(*job);
      }
      EXPECT_EQ(seconds_of(job->at("schedule_interval")), std::stod(f[5])) << json::serialize(*job);
      EXPECT_EQ(job->at("scheduled").as_bool(), f[6] == "t") << json::serialize(*job);
    }
    EXPECT_EQ(expected_jobs, 6) << "the fixture has six jobs of its own";

    // tables: exactly the fixture's relations, each with its kind; never TimescaleDB's
    // storage (chunks, compressed chunks, materialization tables, the _timescaledb_* schemas).
    EXPECT_EQ(text(m.at("row_counts")), mode);
    const auto relations = timescaledb_fixture_relations();
    const auto exact = exact_counts(ts(), source_db, relations);
    std::map<std::string, std::string> kinds;
    for (const auto& r : relations)
      kinds[r.qualified()] = r.kind;
    std::set<std::string> listed;
    for (const auto& t : m.at("tables").as_array()) {
      const auto& o = t.as_object();
      const std::string schema(o.at("schema").as_string());
      const std::string name(o.at("name").as_string());
      const auto qualified = schema + "." + name;
      SCOPED_TRACE(json::serialize(o));
      EXPECT_FALSE(schema.starts_with("_timescaledb")) << "TimescaleDB's storage is listed";
      EXPECT_EQ(name.find("_hyper_"), std::string::npos) << "a chunk is listed";
      EXPECT_FALSE(listed.contains(qualified)) << "listed twice";
      listed.insert(qualified);
      ASSERT_TRUE(kinds.contains(qualified)) << "not a relation of the fixture";
      EXPECT_EQ(text(o.at("kind")), kinds.at(qualified));
      ASSERT_TRUE(o.at("rows").is_number()) << "the count failed";
      const auto rows = o.at("rows").to_number<std::uint64_t>();
      if (mode == "exact") {
        EXPECT_EQ(rows, exact.at(qualified));
      } else if (kinds.at(qualified) == "hypertable") {
        // approximate_row_count(): near the truth, and never the empty root's 0.
        EXPECT_GT(rows, exact.at(qualified) / 2);
        EXPECT_LT(rows, exact.at(qualified) * 2);
      }
    }
    EXPECT_EQ(listed.size(), relations.size());
  }

  void expect_no_database(pg_cluster& server, const std::string& name) {
    EXPECT_FALSE(database_exists(server, name)) << name << " was left behind";
  }
};

TEST_F(TimescaleBackup, ManifestsRecordTheExtensionTheHypertablesTheJobsAndCountsByKind) {
  start();
  const auto [key, recipient] = new_age_identity("drill.key");
  struct variant {
    std::string label;
    std::map<std::string, std::string> overrides;
  };
  const std::vector<variant> variants = {
      {"pg_dump", {{"COMPRESSION", "pg_dump"}}},
      {"zstd", {{"COMPRESSION", "zstd"}}},
      {"pg_dump+age", {{"COMPRESSION", "pg_dump"}, {"ENCRYPT_RECIPIENTS", recipient}}},
      {"zstd+age", {{"COMPRESSION", "zstd"}, {"ENCRYPT_RECIPIENTS", recipient}}},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.label);
    auto overrides = v.overrides;
    const auto dir = dir_ / ("backups-" + v.label);
    overrides["BACKUP_DIR"] = dir.string();
    const auto name = backup(ts_config(source_db, overrides), v.label + ".env");
    ASSERT_FALSE(name.empty());
    const auto m = manifest_of(dir, name);
    expect_timescaledb_manifest(m, "exact");

    // The manifest travels with the backup: the receiver serves what the agent wrote (sealed
    // to the same recipients when the backup is).
    auto served = receiver_manifest(name);
    if (v.overrides.contains("ENCRYPT_RECIPIENTS")) {
      EXPECT_TRUE(served.starts_with("age-encryption.org/v1\n")) << "not sealed";
      EXPECT_EQ(served.find("trades"), std::string::npos) << "the manifest is readable";
      write_file(dir_ / "sealed", served);
      const auto d = run_process({"age", "-d", "-i", key.string(), (dir_ / "sealed").string()});
      ASSERT_TRUE(d.ok()) << d.err;
      served = d.out;
    }
    if (served.empty()) continue;
    const auto uploaded = json::parse(served).as_object();
    for (const char* field : {"tables", "extensions", "timescaledb"}) {
      ASSERT_TRUE(uploaded.contains(field)) << field << ": " << served;
      EXPECT_EQ(json::serialize(uploaded.at(field)), json::serialize(m.at(field))) << field;
    }
  }

  // ROW_COUNTS=estimate: the same list, hypertables estimated at their root.
  const auto dir = dir_ / "backups-estimate";
  const auto name =
      backup(ts_config(source_db, {{"ROW_COUNTS", "estimate"}, {"BACKUP_DIR", dir.string()}}),
             "estimate.env");
  ASSERT_FALSE(name.empty());
  expect_timescaledb_manifest(manifest_of(dir, name), "estimate");
}

TEST_F(TimescaleBackup, RestoreCreateBringsBackCountsCompressionJobsAndWorkingHypertables) {
  start();
  const auto [key, recipient] = new_age_identity("restore.key");
  struct variant {
    std::string label;
    std::map<std::string, std::string> overrides;
  };
  const std::vector<variant> variants = {
      {"pg_dump", {{"COMPRESSION", "pg_dump"}}},
      {"zstd+age",
       {{"COMPRESSION", "zstd"},
        {"ENCRYPT_RECIPIENTS", recipient},
        {"AGE_IDENTITY_FILE", key.string()}}},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.label);
    const auto cfg = ts_config(source_db, v.overrides);
    const auto name = backup(cfg, v.label + ".env");
    ASSERT_FALSE(name.empty());
    for (const std::string jobs : {"1", "2"}) {
      SCOPED_TRACE("--jobs " + jobs);
      const std::string target = "tsdb_copy_" + jobs;
      const auto r = run_agent({"restore", "--config", (dir_ / (v.label + ".env")).string(), "--id",
                                name, "--target-db", target, "--create", "--jobs", jobs});
      ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
      expect_restored_like_source(source_db, target, ts());
      // The continuous aggregate's catalog came back whole: it refreshes, and its real-time
      // view still counts the same candles.
      ts().execute(target, "CALL refresh_continuous_aggregate('trades_1h', NULL, now())");
      EXPECT_EQ(ts().query_value(target, "SELECT count(*) FROM trades_1h WHERE bucket < now()"),
                ts().query_value(source_db, "SELECT count(*) FROM trades_1h"));
      ts().drop_database(target);
    }
  }
}

TEST_F(TimescaleBackup, AServerWithoutTheBackupsVersionIsRefusedAndNoDatabaseIsLeft) {
  start();
  const auto name = backup(ts_config(source_db));
  ASSERT_FALSE(name.empty());

  // A server whose extension directory offers TimescaleDB 2.27.0 only.
  timescaledb_other_version_server other("2.27.0");
  const auto at_other = write_config(ts_config(source_db, {}, &other.cluster()), "other.env");
  for (const std::string jobs : {"1", "2"}) {
    SCOPED_TRACE("--jobs " + jobs);
    const auto r = run_agent({"restore", "--config", at_other.string(), "--id", name, "--target-db",
                              "tsdb_elsewhere", "--create", "--jobs", jobs});
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(output(r).find("2.28.3"), std::string::npos) << "the backup's version is not named\n"
                                                           << output(r);
    EXPECT_NE(output(r).find("2.27.0"), std::string::npos) << "the server's version is not named\n"
                                                           << output(r);
    expect_no_database(other.cluster(), "tsdb_elsewhere");
  }
  // A drill against that server is refused the same way, and leaves no scratch database.
  const auto drill_there = write_config(
      ts_config(source_db, {{"DRILL_POSTGRES_HOST", other.cluster().host()},
                            {"DRILL_POSTGRES_PORT", std::to_string(other.cluster().port())},
                            {"DRILL_POSTGRES_USER", other.cluster().user()},
                            {"DRILL_POSTGRES_PASSWORD", other.cluster().password()}}),
      "drill-other.env");
  const auto drill = run_agent({"drill", "--config", drill_there.string()});
  EXPECT_NE(drill.exit_code, 0) << drill.out << drill.err;
  EXPECT_NE(output(drill).find("2.28.3"), std::string::npos) << output(drill);
  EXPECT_NE(output(drill).find("2.27.0"), std::string::npos) << output(drill);
  expect_no_database(other.cluster(), source_db + "_pgship_drill");

  // A plain PostgreSQL 15 that has the files but does not preload the library.
  auto& plain = pg_cluster::shared();
  const auto at_plain = write_config(ts_config(source_db, {}, &plain), "plain.env");
  const auto r = run_agent({"restore", "--config", at_plain.string(), "--id", name, "--target-db",
                            "tsdb_unloaded", "--create"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  std::string text = output(r);
  std::transform(text.begin(), text.end(), text.begin(), ::tolower);
  EXPECT_NE(text.find("timescaledb"), std::string::npos) << output(r);
  EXPECT_NE(text.find("preload"), std::string::npos) << "what is missing is not said\n"
                                                     << output(r);
  expect_no_database(plain, "tsdb_unloaded");
}

TEST_F(TimescaleBackup, AFailedPgRestoreIsReportedWithItsErrorLineNotItsLastLine) {
  start();
  const auto name = backup(ts_config(source_db));
  ASSERT_FALSE(name.empty());
  const auto cfg = write_config(ts_config(source_db), "trap.env");
  for (const std::string jobs : {"1", "2"}) {
    SCOPED_TRACE("--jobs " + jobs);
    // An empty database (no relation) whose event trigger gives `orders` a CHECK that every
    // row breaks, so pg_restore fails in COPY: ERROR, DETAIL, then CONTEXT as its last line.
    const std::string target = "tsdb_trap_" + jobs;
    ts().drop_database(target);
    ts().create_database(target);
    ts().execute(target, R"sql(
CREATE FUNCTION trap_orders() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
             WHERE command_tag = 'CREATE TABLE' AND object_identity = 'public.orders') THEN
    ALTER TABLE public.orders ADD CONSTRAINT orders_trap CHECK (qty < 0);
  END IF;
END $$;
CREATE EVENT TRIGGER trap_orders ON ddl_command_end EXECUTE FUNCTION trap_orders();
ALTER EVENT TRIGGER trap_orders ENABLE ALWAYS;
)sql");
    const auto r = run_agent(
        {"restore", "--config", cfg.string(), "--id", name, "--target-db", target, "--jobs", jobs});
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    // The reason the agent gives (its last "pgship-agent: " message and what follows).
    const auto at = r.err.rfind("pgship-agent: ");
    const auto reason = at == std::string::npos ? r.out + r.err : r.err.substr(at);
    EXPECT_NE(reason.find("violates check constraint \"orders_trap\""), std::string::npos)
        << "pg_restore's ERROR: line is not the reason given\n"
        << r.out << r.err;
    EXPECT_NE(reason.find("ERROR:"), std::string::npos) << reason;
    EXPECT_NE(reason.find("DETAIL:"), std::string::npos) << reason;
    EXPECT_FALSE(reason.starts_with("pgship-agent: CONTEXT:")) << reason;
    ts().drop_database(target);
  }
}

}  // namespace
}  // namespace pgship::test
