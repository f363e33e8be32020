#include <limits>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <pgship/common/json_text.hpp>

namespace pgship {
namespace {

TEST(PlainDecimal, PrintsDecimalsWithoutANegativeExponent) {
  EXPECT_EQ(plain_decimal(0.61), "0.61");
  EXPECT_EQ(plain_decimal(0.610262209), "0.610262209");
  EXPECT_EQ(plain_decimal(5.0), "5.0");
  EXPECT_EQ(plain_decimal(0.0), "0.0");
  EXPECT_EQ(plain_decimal(-2.5), "-2.5");
  EXPECT_EQ(plain_decimal(123456789.5), "123456789.5");
  EXPECT_EQ(plain_decimal(0.000012), "0.000012");
  EXPECT_EQ(plain_decimal(1e-9), "0.0");
  EXPECT_EQ(plain_decimal(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(plain_decimal(std::numeric_limits<double>::infinity()), "null");
}

TEST(RoundToMillis, RoundsSecondsToThreeDecimals) {
  EXPECT_EQ(plain_decimal(round_to_millis(0.610262209)), "0.61");
  EXPECT_EQ(plain_decimal(round_to_millis(12.3456)), "12.346");
  EXPECT_EQ(plain_decimal(round_to_millis(0.0004)), "0.0");
}

TEST(JsonText, MatchesBoostJsonExceptForDoublesWhichReadBackTheSame) {
  const auto value =
      boost::json::parse(R"({"s":"a\"b\n","i":-3,"u":18446744073709551615,"b":true,"n":null,)"
                         R"("a":[1,0.25,{"x":0.0001234}],"e":{},"l":[]})");
  const auto text = json_text(value);
  EXPECT_EQ(text, R"({"s":"a\"b\n","i":-3,"u":18446744073709551615,"b":true,"n":null,)"
                  R"("a":[1,0.25,{"x":0.0001234}],"e":{},"l":[]})");
  EXPECT_EQ(boost::json::parse(text), value);
  const auto whole = boost::json::parse(json_text(boost::json::value(3.0)));
  EXPECT_TRUE(whole.is_double()) << "a whole double stays a double";
}

}  // namespace
}  // namespace pgship
