#include <set>
#include <string>
#include <string_view>

#include <boost/system/errc.hpp>
#include <gtest/gtest.h>

#include <pgship/common/errors.hpp>

namespace pgship {
namespace {

struct catalogue_entry {
  errc code;
  int value;
  std::string_view name;
};

// The released catalogue: values are exit codes and names are metric labels, so a change to
// either is a compatibility break this table is meant to catch.
constexpr catalogue_entry catalogue[] = {
    {errc::ok, 0, "ok"},
    {errc::internal, 1, "internal"},
    {errc::config_invalid, 2, "config_invalid"},
    {errc::database_unreachable, 10, "database_unreachable"},
    {errc::database_auth_failed, 11, "database_auth_failed"},
    {errc::database_missing, 12, "database_missing"},
    {errc::pg_dump_not_found, 13, "pg_dump_not_found"},
    {errc::pg_dump_version_mismatch, 14, "pg_dump_version_mismatch"},
    {errc::dump_failed, 15, "dump_failed"},
    {errc::dump_too_small, 16, "dump_too_small"},
    {errc::verify_failed, 17, "verify_failed"},
    {errc::restore_list_failed, 18, "restore_list_failed"},
    {errc::restore_failed, 19, "restore_failed"},
    {errc::receiver_unreachable, 20, "receiver_unreachable"},
    {errc::receiver_unhealthy, 21, "receiver_unhealthy"},
    {errc::receiver_auth_failed, 22, "receiver_auth_failed"},
    {errc::upload_rejected, 23, "upload_rejected"},
    {errc::upload_failed, 24, "upload_failed"},
    {errc::hash_mismatch, 25, "hash_mismatch"},
    {errc::tls_failed, 26, "tls_failed"},
    {errc::local_io_failed, 30, "local_io_failed"},
    {errc::disk_full, 31, "disk_full"},
    {errc::rotate_failed, 32, "rotate_failed"},
    {errc::cancelled, 40, "cancelled"},
    {errc::interrupted, 41, "interrupted"},
    {errc::run_in_progress, 42, "run_in_progress"},
    {errc::check_failed, 43, "check_failed"},
    {errc::drill_mismatch, 50, "drill_mismatch"},
    {errc::drill_refused, 51, "drill_refused"},
    {errc::restore_refused, 52, "restore_refused"},
    {errc::replication_unavailable, 60, "replication_unavailable"},
    {errc::wal_conflict, 61, "wal_conflict"},
    {errc::wal_gap, 62, "wal_gap"},
    {errc::basebackup_incomplete, 63, "basebackup_incomplete"},
};

TEST(errors_test, category_is_named_pgship) {
  EXPECT_STREQ(error_category().name(), "pgship");
  EXPECT_EQ(&error_category(), &error_category());
}

TEST(errors_test, make_error_code_uses_the_pgship_category) {
  const boost::system::error_code ec = make_error_code(errc::dump_failed);
  EXPECT_EQ(ec.value(), 15);
  EXPECT_EQ(ec.category(), error_category());
  EXPECT_STREQ(ec.category().name(), "pgship");
  EXPECT_EQ(ec.message(), "pg_dump failed");
  EXPECT_TRUE(static_cast<bool>(ec));
}

TEST(errors_test, enum_converts_implicitly_to_error_code) {
  const boost::system::error_code ec = errc::hash_mismatch;
  EXPECT_EQ(ec, make_error_code(errc::hash_mismatch));
  EXPECT_EQ(ec, errc::hash_mismatch);
  EXPECT_NE(ec, errc::upload_failed);
  EXPECT_EQ(ec.message(), "sha256 mismatch");
}

TEST(errors_test, ok_is_not_an_error) {
  const boost::system::error_code ec = make_error_code(errc::ok);
  EXPECT_FALSE(static_cast<bool>(ec));
  EXPECT_EQ(ec.message(), "success");
}

TEST(errors_test, exit_code_for_success) {
  EXPECT_EQ(exit_code_for({}), 0);
  EXPECT_EQ(exit_code_for(make_error_code(errc::ok)), 0);
}

TEST(errors_test, exit_code_for_pgship_errors_is_their_value) {
  for (const auto& e : catalogue) {
    EXPECT_EQ(exit_code_for(make_error_code(e.code)), e.value) << e.name;
  }
  EXPECT_EQ(exit_code_for(errc::config_invalid), 2);
  EXPECT_EQ(exit_code_for(errc::check_failed), 43);
}

TEST(errors_test, exit_code_for_other_errors_is_internal) {
  namespace bse = boost::system::errc;
  EXPECT_EQ(exit_code_for(bse::make_error_code(bse::no_such_file_or_directory)), 1);
  EXPECT_EQ(exit_code_for(bse::make_error_code(bse::no_space_on_device)), 1);
  // Same number as a pgship code, but another category.
  EXPECT_EQ(exit_code_for(boost::system::error_code(15, boost::system::generic_category())), 1);
  EXPECT_EQ(exit_code_for(boost::system::error_code(25, boost::system::system_category())), 1);
}

TEST(errors_test, every_code_has_its_stable_name) {
  for (const auto& e : catalogue) {
    EXPECT_EQ(static_cast<int>(e.code), e.value) << e.name;
    EXPECT_EQ(error_name(e.code), e.name);
  }
}

TEST(errors_test, every_code_has_a_name_and_a_message) {
  for (const auto& e : catalogue) {
    EXPECT_NE(error_name(e.code), "unknown") << e.value;
    EXPECT_FALSE(error_name(e.code).empty()) << e.value;
    const std::string message = make_error_code(e.code).message();
    EXPECT_FALSE(message.empty()) << e.name;
    EXPECT_EQ(message.find("unknown"), std::string::npos) << e.name << ": " << message;
  }
}

TEST(errors_test, names_and_messages_are_unique) {
  std::set<std::string_view> names;
  std::set<std::string> messages;
  for (const auto& e : catalogue) {
    EXPECT_TRUE(names.insert(error_name(e.code)).second) << "duplicate name " << e.name;
    EXPECT_TRUE(messages.insert(make_error_code(e.code).message()).second)
        << "duplicate message for " << e.name;
  }
  EXPECT_EQ(names.size(), std::size(catalogue));
}

TEST(errors_test, every_enum_value_in_range_is_in_the_catalogue) {
  // A value between 0 and 99 with a name must be listed above (so the table stays complete).
  std::set<int> listed;
  for (const auto& e : catalogue)
    listed.insert(e.value);
  for (int v = 0; v < 100; ++v) {
    const bool named = error_name(static_cast<errc>(v)) != "unknown";
    EXPECT_EQ(named, listed.count(v) == 1) << v;
  }
}

TEST(errors_test, exit_codes_fit_a_process_status) {
  for (const auto& e : catalogue) {
    EXPECT_GE(e.value, 0);
    EXPECT_LE(e.value, 125) << "126 and above mean something to shells";
  }
}

TEST(errors_test, values_outside_the_catalogue) {
  EXPECT_EQ(error_name(static_cast<errc>(99)), "unknown");
  EXPECT_EQ(error_name(static_cast<errc>(-1)), "unknown");
  EXPECT_EQ(error_category().message(99), "unknown pgship error 99");
  EXPECT_EQ(exit_code_for(make_error_code(static_cast<errc>(99))), 99);
}

}  // namespace
}  // namespace pgship
