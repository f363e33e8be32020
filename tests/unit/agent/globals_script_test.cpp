// The globals script as pg_dumpall 15 writes it: complete or not, the roles it creates, and
// what is applied to a server that already has some of them.

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/globals_script.hpp"

namespace pgship::agent {
namespace {

// pg_dumpall --globals-only of a cluster with a quoted role name, a password, a multi-line
// comment with a ';' in it, a setting, a membership and a parameter privilege (15.18).
const std::string script = R"(--
-- PostgreSQL database cluster dump
--

\restrict PactJsAY9ccWMBKxVWQBRhZAPF1nikKbORzRaMGNtnbOxI8zrKTgUsmyDz9Uizv

SET default_transaction_read_only = off;

SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

--
-- Roles
--

CREATE ROLE "Weird Role";
ALTER ROLE "Weird Role" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE app_owner;
ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE reader;
ALTER ROLE reader WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:g6gv==$EKb2=:adHp=';
COMMENT ON ROLE reader IS 'it''s; a
reader';

--
-- User Configurations
--

--
-- User Config "reader"
--

ALTER ROLE reader SET search_path TO 'app', 'public';


--
-- Role memberships
--

GRANT app_owner TO reader WITH ADMIN OPTION GRANTED BY postgres;
GRANT reader TO "Weird Role" GRANTED BY postgres;


--
-- Role privileges on configuration parameters
--

GRANT SET ON PARAMETER work_mem TO reader;

--
-- Tablespaces
--

CREATE TABLESPACE fast OWNER app_owner LOCATION '/srv/fast';
GRANT ALL ON TABLESPACE fast TO reader;

\unrestrict PactJsAY9ccWMBKxVWQBRhZAPF1nikKbORzRaMGNtnbOxI8zrKTgUsmyDz9Uizv

--
-- PostgreSQL database cluster dump complete
--

)";

TEST(GlobalsScript, KnowsAComplete) {
  EXPECT_TRUE(globals_script_complete(script));
  EXPECT_TRUE(globals_script_complete(script.substr(script.size() - 80)));
  EXPECT_FALSE(globals_script_complete(script.substr(0, script.size() - 10)));
  EXPECT_FALSE(globals_script_complete(script.substr(0, script.size() / 2)));
  EXPECT_FALSE(globals_script_complete(""));
}

TEST(GlobalsScript, ReadsTheRolesItCreates) {
  EXPECT_EQ(created_role("CREATE ROLE app_owner;"), "app_owner");
  EXPECT_EQ(created_role("CREATE ROLE \"Weird \"\"Role\";"), "Weird \"Role");
  EXPECT_EQ(created_role("ALTER ROLE app_owner WITH LOGIN;"), "");
  EXPECT_EQ(created_role("-- CREATE ROLE x;"), "");
}

TEST(GlobalsScript, SplitsStatementsAndNamesTheirSubjects) {
  const auto parsed = parse_globals_script(script);
  ASSERT_TRUE(parsed.problem.empty()) << parsed.problem;
  using subject = globals_statement::subject;
  std::vector<std::pair<subject, std::string>> subjects;
  for (const auto& s : parsed.statements)
    subjects.emplace_back(s.about, s.name);
  const std::vector<std::pair<subject, std::string>> expected = {
      {subject::none, ""},            // SET default_transaction_read_only
      {subject::none, ""},            // SET client_encoding
      {subject::none, ""},            // SET standard_conforming_strings
      {subject::role, "Weird Role"},  // CREATE
      {subject::role, "Weird Role"},  // ALTER
      {subject::role, "app_owner"},   // CREATE
      {subject::role, "app_owner"},   // ALTER
      {subject::role, "postgres"},    // CREATE
      {subject::role, "postgres"},    // ALTER
      {subject::role, "reader"},      // CREATE
      {subject::role, "reader"},      // ALTER ... PASSWORD
      {subject::role, "reader"},      // COMMENT (two lines, a ';' inside)
      {subject::role, "reader"},      // ALTER ROLE SET
      {subject::role, "reader"},      // GRANT app_owner TO reader
      {subject::role, "Weird Role"},  // GRANT reader TO "Weird Role"
      {subject::role, "reader"},      // GRANT SET ON PARAMETER
      {subject::tablespace, "fast"},  // CREATE TABLESPACE
      {subject::tablespace, "fast"},  // GRANT ON TABLESPACE
  };
  EXPECT_EQ(subjects, expected);
  EXPECT_EQ(parsed.statements[11].text, "COMMENT ON ROLE reader IS 'it''s; a\nreader';");
}

TEST(GlobalsScript, LeavesWhatTheServerHasAsItIs) {
  const auto parsed = parse_globals_script(script);
  const auto plan = plan_globals(parsed.statements, {"postgres", "reader", "pg_monitor"}, {});
  EXPECT_EQ(plan.kept_roles, (std::vector<std::string>{"postgres", "reader"}));
  EXPECT_TRUE(plan.creates_tablespace);
  for (const auto& s : plan.statements) {
    EXPECT_EQ(s.find("ROLE reader"), std::string::npos) << s;
    EXPECT_EQ(s.find("ROLE postgres"), std::string::npos) << s;
    // A new tablespace's privileges belong to it, as a new table's would.
    if (!s.starts_with("GRANT ALL ON TABLESPACE")) {
      EXPECT_EQ(s.find("TO reader"), std::string::npos) << s;
    }
  }
  // What is about a new role stays, also when it names an existing one.
  EXPECT_NE(std::find(plan.statements.begin(), plan.statements.end(),
                      "GRANT reader TO \"Weird Role\" GRANTED BY postgres;"),
            plan.statements.end());
  EXPECT_NE(std::find(plan.statements.begin(), plan.statements.end(), "CREATE ROLE app_owner;"),
            plan.statements.end());

  const auto with_tablespace = plan_globals(parsed.statements, {}, {"fast"});
  EXPECT_EQ(with_tablespace.kept_tablespaces, std::vector<std::string>{"fast"});
  EXPECT_FALSE(with_tablespace.creates_tablespace);
  EXPECT_EQ(with_tablespace.statements.size(), parsed.statements.size() - 2);
}

TEST(GlobalsScript, RefusesWhatItWouldNotApply) {
  EXPECT_NE(parse_globals_script("\\! rm -rf /\nCREATE ROLE a;\n").problem, "");
  EXPECT_NE(parse_globals_script("CREATE ROLE a;\nCREATE ROLE 'b\n").problem, "");
  EXPECT_EQ(parse_globals_script("-- only a comment\n\n").statements.size(), 0u);
}

TEST(GlobalsScript, NeverShowsAPassword) {
  const auto text =
      describe_statement("ALTER ROLE reader WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:secret';", 200);
  EXPECT_EQ(text.find("secret"), std::string::npos) << text;
  EXPECT_EQ(describe_statement(std::string(200, 'x'), 10), "xxxxxxxxxx...");
}

}  // namespace
}  // namespace pgship::agent
