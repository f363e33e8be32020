#include <cmath>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <pgship/common/json_text.hpp>

namespace pgship {
namespace {

void append(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(key);
        out += ':';
        append(out, item);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append(out, item);
      }
      out += ']';
      return;
    }
    case boost::json::kind::double_:
      out += plain_decimal(v.get_double());
      return;
    default:  // strings, integers, booleans, null
      out += boost::json::serialize(v);
  }
}

}  // namespace

std::string plain_decimal(double v) {
  if (!std::isfinite(v)) return "null";
  // The shortest text that reads back as the same double ("0.61", "1e-05", "1e+300").
  std::string text = fmt::format("{}", v);
  if (text.find("e-") != std::string::npos) {
    // Below 1e-4: six decimals are plenty for what is measured here (seconds, rates).
    text = fmt::format("{:.6f}", v);
    while (text.ends_with('0') && !text.ends_with(".0"))
      text.pop_back();
    if (text == "-0.0") text = "0.0";
  } else if (text.find_first_of(".e") == std::string::npos) {
    text += ".0";  // so that it parses back as a double, not an integer
  }
  return text;
}

std::string json_text(const boost::json::value& value) {
  std::string out;
  append(out, value);
  return out;
}

double round_to_millis(double seconds) {
  return std::round(seconds * 1000.0) / 1000.0;
}

std::string text_of(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace pgship
