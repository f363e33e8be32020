// The env-style configuration file syntax (parse_env_text: KEY=VALUE, comments, quotes,
// `export`) and the value parsers the getters apply to what it returns. A file that parses,
// written back with every value double-quoted, must parse to the same keys and values.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <pgship/common/config.hpp>
#include <pgship/common/config_values.hpp>

namespace {

namespace config = pgship::config;

std::string quote(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::map<std::string, std::string, std::less<>> parsed;
  try {
    parsed = config::parse_env_text(text, "fuzz.env");
  } catch (const config::config_error& e) {
    if (std::string_view(e.what()).empty()) __builtin_trap();
    return 0;
  }

  std::string again;
  for (const auto& [key, value] : parsed) {
    if (key.empty()) __builtin_trap();
    again += key + "=" + quote(value) + "\n";
    (void)config::parse_bool(value);
    (void)config::parse_int(value);
    (void)config::parse_size(value);
    if (const auto d = config::parse_duration(value); d && d->count() < 0) __builtin_trap();
    for (const auto& item : config::parse_list(value)) {
      if (item.empty()) __builtin_trap();
    }
  }
  if (config::parse_env_text(again, "again.env") != parsed) __builtin_trap();
  return 0;
}
