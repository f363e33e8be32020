// GLOBALS: the cluster's roles (attributes, passwords, settings, memberships) travel as
// globals-<stamp>.sql[.zst][.age] beside the dumps. `restore --globals` into a fresh cluster
// followed by a restore of the database gives the same owners and grants as the source (the
// catalogs are the judges: pg_roles, pg_authid, pg_auth_members, pg_class.relowner/relacl);
// a role the target already had is left as it was and named. A database called `globals`
// and the globals backups never mix: listing, `restore --latest`, rotation.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "agent_fixture.hpp"

namespace pgship::test {
namespace {

namespace stdfs = std::filesystem;

// Roles and their attributes as \du shows them (reader aside: the target had its own).
const char* roles_sql =
    "SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', rolname, rolsuper, rolinherit, "
    "rolcreaterole, rolcreatedb, rolcanlogin, rolconnlimit, "
    "array_to_string(rolconfig, ';')), E'\\n' ORDER BY rolname) FROM pg_roles "
    "WHERE rolname !~ '^pg_' AND rolname <> 'reader'";
const char* passwords_sql =
    "SELECT string_agg(rolname || '=' || coalesce(rolpassword, '-'), ',' ORDER BY rolname) "
    "FROM pg_authid WHERE rolname IN ('app_login', 'app_owner')";
const char* members_sql =
    "SELECT string_agg(r.rolname || '>' || m.rolname || '|' || am.admin_option, ',' "
    "ORDER BY r.rolname, m.rolname) FROM pg_auth_members am "
    "JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member";
// Owners and privileges as \dp shows them.
const char* owners_sql =
    "SELECT string_agg(c.relname || '|' || pg_get_userbyid(c.relowner) || '|' || "
    "coalesce(c.relacl::text, ''), E'\\n' ORDER BY c.relname) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'app'";
const char* schema_sql =
    "SELECT pg_get_userbyid(nspowner) || '|' || coalesce(nspacl::text, '') FROM pg_namespace "
    "WHERE nspname = 'app'";

class AgentGlobals : public agent_fixture {
 protected:
  static void SetUpTestSuite() {
    auto& pg = pg_cluster::shared();
    pg.execute("postgres",
               "CREATE ROLE app_owner NOLOGIN;"
               "CREATE ROLE reader NOLOGIN;"
               "CREATE ROLE app_login LOGIN PASSWORD 'login-pw-1' CONNECTION LIMIT 5;"
               "CREATE ROLE app_cfg NOLOGIN;"
               "ALTER ROLE app_cfg SET search_path TO app, public;"
               "GRANT reader TO app_login;"
               "GRANT app_owner TO app_cfg WITH ADMIN OPTION;");
    pg.create_database("shop");
    pg.execute("shop",
               "CREATE SCHEMA app AUTHORIZATION app_owner;"
               "GRANT USAGE ON SCHEMA app TO reader;"
               "SET ROLE app_owner;"
               "CREATE TABLE app.orders (id int PRIMARY KEY, total numeric);"
               "CREATE TABLE app.items (id int PRIMARY KEY, name text);"
               "INSERT INTO app.orders SELECT g, g * 1.5 FROM generate_series(1, 100) g;"
               "GRANT SELECT ON app.orders TO reader;"
               "GRANT SELECT, INSERT ON app.items TO app_login;"
               "RESET ROLE;");
  }

  std::string identity(const std::string& name) {
    const auto path = dir_ / name;
    const auto r = run_process({"age-keygen", "-o", path.string()});
    EXPECT_TRUE(r.ok()) << r.describe();
    return path.string();
  }
  std::string recipient_of(const std::string& identity_file) {
    const auto r = run_process({"age-keygen", "-y", identity_file});
    EXPECT_TRUE(r.ok()) << r.describe();
    auto text = r.out;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.pop_back();
    return text;
  }
  std::vector<std::string> stored(const std::string& dir, const std::string& suffix) {
    return files_ending(receiver_->storage_dir() / "default" / dir, suffix);
  }
};

TEST_F(AgentGlobals, RolesOwnersAndGrantsComeBackInAFreshClusterThroughZstdAndAge) {
  start();
  const auto key = identity("globals.key");
  const auto cfg = write_config(agent_config(
      "shop",
      {{"GLOBALS", "on"}, {"COMPRESSION", "zstd"}, {"ENCRYPT_RECIPIENTS", recipient_of(key)}}));
  const auto backup = run_agent({"backup", "--config", cfg.string()});
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  EXPECT_NE(backup.out.find("ok      globals  globals-"), std::string::npos) << backup.out;
  const auto names = stored("globals", ".sql.zst.age");
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(files_ending(backup_dir(), ".sql.zst.age"), names);
  // The manifest names the kind, pg_dumpall's version and the roles.
  const auto manifest = files_ending(backup_dir(), ".json");
  std::string text;
  for (const auto& m : manifest)
    if (m.starts_with("globals-")) text = read_file(backup_dir() / m);
  const auto parsed = boost::json::parse(text);
  const auto& json = parsed.as_object();
  EXPECT_EQ(json.at("kind").as_string(), "globals");
  EXPECT_TRUE(json.at("role_passwords").as_bool());
  EXPECT_NE(boost::json::serialize(json.at("roles")).find("app_login"), std::string::npos);
  EXPECT_NE(json.at("pg_dumpall_version").as_string(), "");

  const auto list = run_agent({"list", "--config", cfg.string()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const auto at = list.out.find(names[0]);
  ASSERT_NE(at, std::string::npos) << list.out;
  const auto line = list.out.substr(at, list.out.find('\n', at) - at);
  EXPECT_NE(line.find(" globals  - "), std::string::npos) << line;

  // A fresh cluster that already has a role `reader` of its own.
  pg_cluster target;
  target.execute("postgres", "CREATE ROLE reader CREATEDB CONNECTION LIMIT 7");
  auto target_cfg = agent_config("shop", {{"AGE_IDENTITY_FILE", key}}, &target);
  const auto restore_cfg = write_config(target_cfg, "target.env");
  const auto globals = run_agent({"restore", "--globals", "--config", restore_cfg.string()});
  ASSERT_EQ(globals.exit_code, 0) << globals.out << globals.err;
  EXPECT_NE(globals.out.find("left as they were (already on the server): roles postgres, reader"),
            std::string::npos)
      << globals.out;
  const auto db = run_agent({"restore", "--latest", "--database", "shop", "--target-db", "shop",
                             "--create", "--config", restore_cfg.string()});
  ASSERT_EQ(db.exit_code, 0) << db.out << db.err;

  auto& source = pg();
  EXPECT_EQ(target.query_value("postgres", roles_sql), source.query_value("postgres", roles_sql));
  EXPECT_EQ(target.query_value("postgres", passwords_sql),
            source.query_value("postgres", passwords_sql));
  EXPECT_NE(target.query_value("postgres", passwords_sql).find("SCRAM-SHA-256"), std::string::npos);
  EXPECT_EQ(target.query_value("postgres", members_sql),
            source.query_value("postgres", members_sql));
  EXPECT_EQ(target.query_value("shop", owners_sql), source.query_value("shop", owners_sql));
  EXPECT_EQ(target.query_value("shop", schema_sql), source.query_value("shop", schema_sql));
  EXPECT_NE(target.query_value("shop", owners_sql).find("orders|app_owner|"), std::string::npos);
  // The role the target had is as it was.
  EXPECT_EQ(target.query_value("postgres",
                               "SELECT rolcreatedb || '|' || rolconnlimit FROM pg_roles "
                               "WHERE rolname = 'reader'"),
            "true|7");
  EXPECT_EQ(target.query_value("shop", "SELECT count(*) FROM app.orders"), "100");

  // Applied again: every role is there now, and all are left as they were.
  const auto again = run_agent({"restore", "--globals", "--config", restore_cfg.string()});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("app_login"), std::string::npos) << again.out;
}

TEST_F(AgentGlobals, ADatabaseCalledGlobalsAndTheGlobalsNeverMix) {
  start();
  pg().create_database("globals");
  pg().execute("globals", "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('the db')");
  const auto cfg =
      write_config(agent_config("globals", {{"GLOBALS", "on"}, {"KEEP_LOCAL_BACKUPS", "2"}}));
  for (int i = 0; i < 3; ++i) {
    const auto r = run_agent({"backup", "--config", cfg.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // Plain .sql with COMPRESSION=pg_dump; each kind keeps its own two newest locally.
  EXPECT_EQ(files_ending(backup_dir(), ".dump").size(), 2u);
  EXPECT_EQ(files_ending(backup_dir(), ".sql").size(), 2u);
  EXPECT_EQ(stored("globals", ".dump").size(), 3u);
  EXPECT_EQ(stored("globals", ".sql").size(), 3u);

  // ?database=globals is the database; ?kind=globals the cluster's globals.
  const auto only_db =
      run_agent({"list", "--database", "globals", "--json", "--config", cfg.string()});
  ASSERT_EQ(only_db.exit_code, 0) << only_db.err;
  const auto parsed = boost::json::parse(only_db.out);
  const auto& records = parsed.as_array();
  EXPECT_EQ(records.size(), 3u);
  for (const auto& r : records) {
    EXPECT_EQ(r.as_object().at("kind").as_string(), "dump") << only_db.out;
  }
  const auto all = run_agent({"list", "--json", "--config", cfg.string()});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  int globals_kind = 0;
  const auto all_records = boost::json::parse(all.out);
  for (const auto& r : all_records.as_array())
    globals_kind += r.as_object().at("kind").as_string() == "globals" ? 1 : 0;
  EXPECT_EQ(globals_kind, 3);
  const auto by_kind = run_process({"curl", "-sf", "-H", "Authorization: Bearer " + token_,
                                    receiver_->url() + "/api/backup/list?kind=globals"});
  ASSERT_TRUE(by_kind.ok()) << by_kind.describe();
  const auto kind_records = boost::json::parse(by_kind.out);
  EXPECT_EQ(kind_records.as_array().size(), 3u);
  const auto table = run_agent({"list", "--config", cfg.string()});
  EXPECT_NE(table.out.find(" dump     globals "), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(" globals  - "), std::string::npos) << table.out;

  // --latest of the database called globals is its dump, never the newer globals file.
  const auto restored = run_agent({"restore", "--latest", "--database", "globals", "--target-db",
                                   "globals_copy", "--create", "--config", cfg.string()});
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  EXPECT_NE(restored.out.find(".dump"), std::string::npos) << restored.out;
  EXPECT_EQ(pg().query_value("globals_copy", "SELECT v FROM marker"), "the db");
  // The globals file is not a database's dump.
  const auto sql = stored("globals", ".sql");
  const auto refused = run_agent(
      {"restore", "--id", sql.back(), "--target-db", "nope", "--create", "--config", cfg.string()});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("restore it with --globals"), std::string::npos) << refused.err;
  const auto drill = run_agent({"drill", "--id", sql.back(), "--config", cfg.string()});
  EXPECT_EQ(drill.exit_code, 51) << drill.out << drill.err;
  EXPECT_NE((drill.out + drill.err).find("not a database's dump"), std::string::npos)
      << drill.out << drill.err;
  // `restore --globals` on the source itself: every role is there, nothing changes.
  const auto same = run_agent({"restore", "--globals", "--config", cfg.string()});
  ASSERT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("left as they were"), std::string::npos) << same.out;
}

}  // namespace
}  // namespace pgship::test
