#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <pgship/common/config_values.hpp>

namespace pgship::config {
namespace {

using std::chrono::milliseconds;

// --- parse_bool -------------------------------------------------------------------------------

TEST(parse_bool_test, accepts_every_true_spelling_in_any_case) {
  for (std::string_view text : {"true", "yes", "on", "1", "TRUE", "True", "YES", "On", "oN"}) {
    EXPECT_EQ(parse_bool(text), std::optional<bool>(true)) << text;
  }
}

TEST(parse_bool_test, accepts_every_false_spelling_in_any_case) {
  for (std::string_view text : {"false", "no", "off", "0", "FALSE", "False", "NO", "Off", "oFF"}) {
    EXPECT_EQ(parse_bool(text), std::optional<bool>(false)) << text;
  }
}

TEST(parse_bool_test, rejects_anything_else) {
  for (std::string_view text : {"", " ", "t", "f", "y", "n", "2", "-1", "01", "truee", "yess",
                                " true", "false ", "enable", "disabled", "null"}) {
    EXPECT_EQ(parse_bool(text), std::nullopt) << '"' << text << '"';
  }
}

// --- parse_int --------------------------------------------------------------------------------

TEST(parse_int_test, accepts_whole_decimal_integers) {
  EXPECT_EQ(parse_int("0"), std::optional<std::int64_t>(0));
  EXPECT_EQ(parse_int("42"), std::optional<std::int64_t>(42));
  EXPECT_EQ(parse_int("-42"), std::optional<std::int64_t>(-42));
  EXPECT_EQ(parse_int("007"), std::optional<std::int64_t>(7));
  EXPECT_EQ(parse_int("-0"), std::optional<std::int64_t>(0));
}

TEST(parse_int_test, accepts_the_int64_limits) {
  EXPECT_EQ(parse_int("9223372036854775807"),
            std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::max()));
  EXPECT_EQ(parse_int("-9223372036854775808"),
            std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::min()));
}

TEST(parse_int_test, rejects_overflow) {
  EXPECT_EQ(parse_int("9223372036854775808"), std::nullopt);
  EXPECT_EQ(parse_int("-9223372036854775809"), std::nullopt);
  EXPECT_EQ(parse_int("99999999999999999999"), std::nullopt);
}

TEST(parse_int_test, rejects_empty_signs_junk_and_surrounding_space) {
  for (std::string_view text : {"", "-", "+", "+5", "5x", "x5", " 5", "5 ", "1.5", "1e3", "0x10",
                                "--5", "5-", "1,000", "1_000"}) {
    EXPECT_EQ(parse_int(text), std::nullopt) << '"' << text << '"';
  }
}

// --- parse_size -------------------------------------------------------------------------------

TEST(parse_size_test, accepts_bare_bytes) {
  EXPECT_EQ(parse_size("0"), std::optional<std::uint64_t>(0));
  EXPECT_EQ(parse_size("1024"), std::optional<std::uint64_t>(1024));
  EXPECT_EQ(parse_size("10B"), std::optional<std::uint64_t>(10));
  EXPECT_EQ(parse_size("10b"), std::optional<std::uint64_t>(10));
}

TEST(parse_size_test, every_suffix_spelling_is_a_power_of_1024) {
  constexpr std::uint64_t kib = 1024;
  constexpr std::uint64_t mib = kib * 1024;
  constexpr std::uint64_t gib = mib * 1024;
  constexpr std::uint64_t tib = gib * 1024;
  constexpr std::uint64_t pib = tib * 1024;
  struct example {
    std::string_view text;
    std::uint64_t bytes;
  };
  for (const example& e : {
           example{"64K", 64 * kib},   example{"64k", 64 * kib},   example{"64KB", 64 * kib},
           example{"64kb", 64 * kib},  example{"64KiB", 64 * kib}, example{"64kib", 64 * kib},
           example{"16M", 16 * mib},   example{"16m", 16 * mib},   example{"16MB", 16 * mib},
           example{"16MiB", 16 * mib}, example{"1G", gib},         example{"1g", gib},
           example{"1GB", gib},        example{"1GiB", gib},       example{"3gib", 3 * gib},
           example{"1T", tib},         example{"1TB", tib},        example{"2t", 2 * tib},
           example{"1TiB", tib},       example{"1P", pib},         example{"1PB", pib},
           example{"2PiB", 2 * pib},   example{"0K", 0},           example{"0G", 0},
       }) {
    EXPECT_EQ(parse_size(e.text), std::optional<std::uint64_t>(e.bytes)) << e.text;
  }
}

TEST(parse_size_test, accepts_values_up_to_uint64_max) {
  EXPECT_EQ(parse_size("18446744073709551615"),
            std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max()));
  // 16383 PiB = 2^64 - 2^50 still fits.
  EXPECT_EQ(parse_size("16383P"),
            std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max() -
                                         (std::uint64_t{1} << 50) + 1));
}

TEST(parse_size_test, rejects_overflow) {
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_size("16384P"), std::nullopt);  // exactly 2^64
  EXPECT_EQ(parse_size("17179869184T"), std::nullopt);
  EXPECT_EQ(parse_size("99999999999999999999K"), std::nullopt);
}

TEST(parse_size_test, rejects_bad_forms) {
  for (std::string_view text : {"", "-1", "-1K", "+1K", "1.5G", "1,5G", "5x", "K", "G", "1 G",
                                " 1G", "1G ", "1KK", "1GiBs", "1Gi", "1E", "0x10", "1e3", "1iB"}) {
    EXPECT_EQ(parse_size(text), std::nullopt) << '"' << text << '"';
  }
}

// --- parse_duration ---------------------------------------------------------------------------

TEST(parse_duration_test, a_bare_number_is_seconds) {
  EXPECT_EQ(parse_duration("0"), std::optional<milliseconds>(0));
  EXPECT_EQ(parse_duration("60"), std::optional<milliseconds>(60'000));
  EXPECT_EQ(parse_duration("3600"), std::optional<milliseconds>(3'600'000));
}

TEST(parse_duration_test, accepts_every_unit) {
  EXPECT_EQ(parse_duration("500ms"), std::optional<milliseconds>(500));
  EXPECT_EQ(parse_duration("90s"), std::optional<milliseconds>(90'000));
  EXPECT_EQ(parse_duration("5m"), std::optional<milliseconds>(300'000));
  EXPECT_EQ(parse_duration("2h"), std::optional<milliseconds>(7'200'000));
  EXPECT_EQ(parse_duration("2d"), std::optional<milliseconds>(172'800'000));
  EXPECT_EQ(parse_duration("1w"), std::optional<milliseconds>(604'800'000));
}

TEST(parse_duration_test, units_are_case_insensitive) {
  EXPECT_EQ(parse_duration("1H"), std::optional<milliseconds>(3'600'000));
  EXPECT_EQ(parse_duration("250MS"), std::optional<milliseconds>(250));
  EXPECT_EQ(parse_duration("1H30M"), std::optional<milliseconds>(5'400'000));
}

TEST(parse_duration_test, parts_add_up) {
  EXPECT_EQ(parse_duration("1h30m"), std::optional<milliseconds>(5'400'000));
  EXPECT_EQ(parse_duration("1m30s500ms"), std::optional<milliseconds>(90'500));
  EXPECT_EQ(parse_duration("1w2d3h4m5s6ms"),
            std::optional<milliseconds>(604'800'000 + 2 * 86'400'000 + 3 * 3'600'000 + 4 * 60'000 +
                                        5'000 + 6));
  EXPECT_EQ(parse_duration("0s"), std::optional<milliseconds>(0));
}

TEST(parse_duration_test, accepts_the_largest_representable_value) {
  EXPECT_EQ(parse_duration("9223372036854775807ms"),
            std::optional<milliseconds>(std::numeric_limits<milliseconds::rep>::max()));
}

TEST(parse_duration_test, rejects_overflow) {
  EXPECT_EQ(parse_duration("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_duration("99999999999999999999ms"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775807"), std::nullopt);  // seconds -> ms overflows
  EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(parse_duration("9223372036854775807ms1ms"), std::nullopt);
  EXPECT_EQ(parse_duration("106751991167w"), std::nullopt);
}

TEST(parse_duration_test, rejects_bad_forms) {
  for (std::string_view text :
       {"",    "5x",  "m5",   "m",      "ms",   "-5",   "-5s", "+5s", "1.5h", "5 m",
        " 5m", "5m ", "1h30", "1h 30m", "5sec", "5min", "1y",  "s5",  "0x10", "5,5s"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
  }
}

// --- parse_list -------------------------------------------------------------------------------

TEST(parse_list_test, splits_on_commas) {
  EXPECT_EQ(parse_list("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(parse_list("single"), (std::vector<std::string>{"single"}));
}

TEST(parse_list_test, trims_entries_and_drops_empty_ones) {
  EXPECT_EQ(parse_list("  a , b ,, c ,"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(parse_list(",x,"), (std::vector<std::string>{"x"}));
  EXPECT_EQ(parse_list("\tone two ,three\n"), (std::vector<std::string>{"one two", "three"}));
}

TEST(parse_list_test, empty_input_gives_an_empty_list) {
  EXPECT_TRUE(parse_list("").empty());
  EXPECT_TRUE(parse_list(" ").empty());
  EXPECT_TRUE(parse_list(",").empty());
  EXPECT_TRUE(parse_list(" , ,, ").empty());
}

// --- trim -------------------------------------------------------------------------------------

TEST(trim_test, removes_leading_and_trailing_whitespace_only) {
  EXPECT_EQ(trim("  x  "), "x");
  EXPECT_EQ(trim("\t\r\n x y \r\n\v\f"), "x y");
  EXPECT_EQ(trim("x"), "x");
  EXPECT_EQ(trim("a  b"), "a  b");
}

TEST(trim_test, all_space_and_empty_give_empty) {
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("   "), "");
  EXPECT_EQ(trim(" \t\n"), "");
}

TEST(trim_test, returns_a_view_into_the_input) {
  const std::string text = "  abc  ";
  const std::string_view out = trim(text);
  EXPECT_EQ(out.data(), text.data() + 2);
  EXPECT_EQ(out.size(), 3u);
}

}  // namespace
}  // namespace pgship::config
