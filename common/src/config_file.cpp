// The env-style file syntax. Kept compatible with files that bash `source`s and with systemd's
// EnvironmentFile=, because /etc/default/mt5-backup from the tool we replace is both.

#include <cctype>

#include <pgship/common/config.hpp>
#include <pgship/common/config_values.hpp>

namespace pgship::config {
namespace {

bool valid_key(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front()))) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Reads a quoted value starting at text[0] (the quote). Returns the value and advances `text`
// past the closing quote. Double quotes understand \" \\ \$ \` and \n; single quotes nothing.
std::optional<std::string> read_quoted(std::string_view& text) {
  const char quote = text.front();
  std::string out;
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == quote) {
      text.remove_prefix(i + 1);
      return out;
    }
    if (quote == '"' && c == '\\' && i + 1 < text.size()) {
      const char next = text[i + 1];
      if (next == 'n') {
        out.push_back('\n');
        ++i;
        continue;
      }
      if (next == '"' || next == '\\' || next == '$' || next == '`') {
        out.push_back(next);
        ++i;
        continue;
      }
    }
    out.push_back(c);
  }
  return std::nullopt;
}

}  // namespace

std::map<std::string, std::string, std::less<>> parse_env_text(std::string_view text,
                                                               std::string_view origin) {
  std::map<std::string, std::string, std::less<>> out;
  int line_number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;

    const auto where = [&] { return std::string(origin) + ":" + std::to_string(line_number); };
    line = trim(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.starts_with("export ") || line.starts_with("export\t")) line = trim(line.substr(7));

    const auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      throw config_error(where() + ": expected KEY=VALUE, got '" + std::string(line) + "'");
    }
    const std::string_view key = trim(line.substr(0, equals));
    if (!valid_key(key)) {
      throw config_error(where() + ": '" + std::string(key) +
                         "' is not a valid key (letters, digits and _)");
    }
    std::string_view rest = line.substr(equals + 1);
    std::string value;
    if (!rest.empty() && (rest.front() == '"' || rest.front() == '\'')) {
      auto quoted = read_quoted(rest);
      if (!quoted)
        throw config_error(where() + ": unterminated quote in value of " + std::string(key));
      rest = trim(rest);
      if (!rest.empty() && rest.front() != '#') {
        throw config_error(where() + ": unexpected text after the quoted value of " +
                           std::string(key));
      }
      value = std::move(*quoted);
    } else {
      // As in a shell, an unquoted value ends where a " #" comment starts.
      std::size_t comment = std::string_view::npos;
      for (std::size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '#' && std::isspace(static_cast<unsigned char>(rest[i - 1]))) {
          comment = i;
          break;
        }
      }
      value = std::string(trim(rest.substr(0, comment)));
    }
    out[std::string(key)] = std::move(value);
  }
  return out;
}

}  // namespace pgship::config
