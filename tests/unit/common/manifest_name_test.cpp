#include <gtest/gtest.h>

#include <pgship/common/manifest_name.hpp>

namespace pgship {
namespace {

TEST(manifest_name_test, names_the_plain_and_the_encrypted_manifest_of_a_backup) {
  EXPECT_EQ(format_manifest_name("app-20261121-030000.dump", false),
            "app-20261121-030000.dump.manifest.json");
  EXPECT_EQ(format_manifest_name("app-20261121-030000.dump.zst.age", true),
            "app-20261121-030000.dump.zst.age.manifest.json.age");
}

TEST(manifest_name_test, parses_back_to_its_backup) {
  for (const bool encrypted : {false, true}) {
    for (const char* backup : {"app-20261121-030000.dump", "my-app-20261121-030000.dump.zst.age",
                               "etc-20261121-030000.tar.zst"}) {
      const auto parsed = parse_manifest_name(format_manifest_name(backup, encrypted));
      ASSERT_TRUE(parsed) << backup;
      EXPECT_EQ(parsed->backup, backup);
      EXPECT_EQ(parsed->encrypted, encrypted);
    }
  }
}

TEST(manifest_name_test, refuses_what_is_no_backups_manifest) {
  for (const char* name :
       {"app-20261121-030000.dump",                // the backup itself
        "app-20261121-030000.json",                // the receiver's record of it
        "app-20261121-030000.dump.sha256",         // its checksum
        "app-20261121-030000.manifest.json",       // no backup extension
        "app-20261321-030000.dump.manifest.json",  // no such month
        "app-20261121-030000.dump.manifest.json.zst", ".manifest.json",
        "../app-20261121-030000.dump.manifest.json", "app-20261121-030000.dump.manifest.jsonx",
        "app-20261121-030000.dump.manifest.age", ""}) {
    EXPECT_FALSE(parse_manifest_name(name)) << name;
  }
  // Too long for a file name once the suffix is on, though the backup's name is not.
  const std::string database(230, 'd');
  const auto backup = database + "-20261121-030000.dump";
  EXPECT_TRUE(parse_manifest_name(format_manifest_name(backup.substr(10), false)));
  EXPECT_FALSE(parse_manifest_name(format_manifest_name(backup, true)));
}

}  // namespace
}  // namespace pgship
