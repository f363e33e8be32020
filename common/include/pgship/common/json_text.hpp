#pragma once
// JSON text whose numbers read as people write them. Boost.JSON 1.81 serializes every double
// in exponent form (0.61 becomes "6.1E-1") and has no option against it: what the agent and
// the receiver emit (run history, API bodies, logs) goes through json_text instead.

#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace pgship {

/// A finite double as a plain decimal: the shortest text that reads back as it ("0.61",
/// "123456789.5"), with ".0" on whole numbers ("5.0") so it parses back as a double, and below
/// 1e-4 six decimals instead of a negative exponent ("0.000012"). Only beyond 1e16 does an
/// exponent appear ("1e+300"). NaN and infinities, which JSON cannot hold, become "null".
std::string plain_decimal(double v);

/// `value` as compact JSON, like boost::json::serialize except for doubles (plain_decimal).
std::string json_text(const boost::json::value& value);

/// The string at `key`, or "" when it is absent or not a string: for reading records whose
/// optional fields were left out.
std::string text_of(const boost::json::object& o, std::string_view key);

/// Seconds rounded to milliseconds, for durations recorded in JSON.
double round_to_millis(double seconds);

}  // namespace pgship
