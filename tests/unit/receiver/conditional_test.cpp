// RFC 9110's comparisons for conditional downloads: If-None-Match compares weakly, If-Match
// and If-Range strongly, lists and * are understood, and anything malformed never matches.

#include "api/conditional.hpp"

#include <gtest/gtest.h>

namespace pgship::receiver {
namespace {

const std::string_view tag = "\"abc\"";

TEST(Conditional, IfNoneMatchComparesWeaklyAndUnderstandsListsAndStar) {
  EXPECT_EQ(evaluate_preconditions("", "", tag), precondition::proceed);
  EXPECT_EQ(evaluate_preconditions("", "\"abc\"", tag), precondition::not_modified);
  EXPECT_EQ(evaluate_preconditions("", "W/\"abc\"", tag), precondition::not_modified);
  EXPECT_EQ(evaluate_preconditions("", " \"x\" ,\t\"abc\"", tag), precondition::not_modified);
  EXPECT_EQ(evaluate_preconditions("", "*", tag), precondition::not_modified);
  EXPECT_EQ(evaluate_preconditions("", "\"abcd\"", tag), precondition::proceed);
  EXPECT_EQ(evaluate_preconditions("", "abc", tag), precondition::proceed);  // unquoted
  EXPECT_EQ(evaluate_preconditions("", "\"a\"bc\"", tag), precondition::proceed);
}

TEST(Conditional, IfMatchComparesStronglyAndComesFirst) {
  EXPECT_EQ(evaluate_preconditions("\"abc\"", "", tag), precondition::proceed);
  EXPECT_EQ(evaluate_preconditions("*", "", tag), precondition::proceed);
  EXPECT_EQ(evaluate_preconditions("W/\"abc\"", "", tag), precondition::failed);
  EXPECT_EQ(evaluate_preconditions("\"x\"", "\"abc\"", tag), precondition::failed);
}

TEST(Conditional, IfRangeHoldsOnlyForAStrongMatch) {
  EXPECT_TRUE(if_range_holds("", tag));
  EXPECT_TRUE(if_range_holds("\"abc\"", tag));
  EXPECT_FALSE(if_range_holds("W/\"abc\"", tag));
  EXPECT_FALSE(if_range_holds("\"x\"", tag));
  EXPECT_FALSE(if_range_holds("Tue, 01 Dec 2026 00:00:00 GMT", tag));
  EXPECT_FALSE(if_range_holds("\"abc\", \"x\"", tag));  // one validator, not a list
}

}  // namespace
}  // namespace pgship::receiver
