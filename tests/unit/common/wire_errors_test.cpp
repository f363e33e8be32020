#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/wire/errors.hpp>

namespace pgship::wire {
namespace {

TEST(WireErrors, NamesAreUniqueAndParseBack) {
  std::set<std::string_view> seen;
  for (const auto& entry : api_errors) {
    EXPECT_TRUE(seen.insert(entry.name).second) << "duplicate name " << entry.name;
    EXPECT_EQ(to_string(entry.code), entry.name);
    EXPECT_EQ(parse_api_error(entry.name), entry.code) << entry.name;
    // What goes into a JSON string and a metric label as is: lowercase snake_case.
    for (const char c : entry.name) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << entry.name;
    }
  }
  EXPECT_EQ(parse_api_error(""), std::nullopt);
  EXPECT_EQ(parse_api_error("Conflict"), std::nullopt);
  EXPECT_EQ(parse_api_error("run_in_progress"), std::nullopt) << "the agent's control API";
}

// The names the agent decides on, spelled as the receiver has always sent them: a rename
// here is a wire change for every deployed agent.
TEST(WireErrors, DecidingNamesKeepTheirSpelling) {
  EXPECT_EQ(to_string(api_error::offset_mismatch), "offset_mismatch");
  EXPECT_EQ(to_string(api_error::conflict), "conflict");
  EXPECT_EQ(to_string(api_error::checksum_mismatch), "checksum_mismatch");
  EXPECT_EQ(to_string(api_error::hash_mismatch), "hash_mismatch");
  EXPECT_EQ(to_string(api_error::quota_exceeded), "quota_exceeded");
}

// README.md's receiver section has the catalogue as a table: | `name` | status(es) | meaning |.
TEST(WireErrors, TheReadmeListsEachName) {
  std::ifstream in(PGSHIP_SOURCE_DIR "/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  std::vector<std::string> rows;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line == "| error | status | meaning |") {
      in_table = true;
      continue;
    }
    if (!in_table || line.starts_with("|---")) continue;
    if (!line.starts_with("| `")) break;  // the table ends
    const auto end = line.find('`', 3);
    ASSERT_NE(end, std::string::npos) << line;
    rows.push_back(line.substr(3, end - 3));
    EXPECT_TRUE(parse_api_error(rows.back()).has_value()) << "README.md lists unknown " << line;
  }
  ASSERT_TRUE(in_table) << "README.md has no error table";
  for (const auto& entry : api_errors) {
    EXPECT_EQ(std::count(rows.begin(), rows.end(), entry.name), 1)
        << "README.md's error table should list " << entry.name << " once";
  }
}

}  // namespace
}  // namespace pgship::wire
