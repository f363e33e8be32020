// DRILL_DATABASE: the scratch database a drill creates and drops must never be one that
// holds data anyone wants.

#include <gtest/gtest.h>

#include "settings.hpp"

namespace pgship::agent {
namespace {

std::optional<std::string> scratch(const std::string& pattern, const std::string& db,
                                   std::string& why) {
  settings s;
  s.databases = {"app", "crm"};
  s.drill_database = pattern;
  return drill_database_for(s, db, why);
}

TEST(drill_database_test, TheDefaultNamesAScratchDatabasePerSource) {
  std::string why;
  EXPECT_EQ(scratch("{db}_pgship_drill", "app", why), "app_pgship_drill");
  EXPECT_EQ(scratch("{db}_pgship_drill", "crm", why), "crm_pgship_drill");
  EXPECT_EQ(scratch("drill_{db}_{db}", "app", why), "drill_app_app");
  EXPECT_EQ(scratch("scratch", "app", why), "scratch");
}

TEST(drill_database_test, ASourceDatabaseTemplateOrPostgresIsRefused) {
  for (const auto* pattern : {"{db}", "crm", "app", "postgres", "template0", "template1"}) {
    std::string why;
    EXPECT_FALSE(scratch(pattern, "app", why)) << pattern;
    EXPECT_NE(why.find("which a drill would replace and drop"), std::string::npos) << why;
  }
  // --database of a database not in POSTGRES_DB is still its own source.
  std::string why;
  EXPECT_FALSE(scratch("{db}", "other", why));
}

TEST(drill_database_test, ANameThatIsNotAPlainDatabaseNameIsRefused) {
  for (const auto* pattern :
       {"a b", "x;drop", "{db}/x", ".hidden",
        "a_very_long_scratch_database_name_that_postgres_would_truncate_{db}"}) {
    std::string why;
    EXPECT_FALSE(scratch(pattern, "app", why)) << pattern;
    EXPECT_NE(why.find("is not a database name"), std::string::npos) << why;
  }
}

}  // namespace
}  // namespace pgship::agent
