#include <pgship/common/redact_url.hpp>

namespace pgship {
namespace {

constexpr std::string_view scheme_end = "://";
constexpr std::string_view hidden = "<redacted>";

// Where a URL's authority ends: at its path, query or fragment, or where the text around it
// goes on (white space, a double quote, an angle bracket: none may stand unescaped in a URL).
// Not at ')', ',' or '\'', which a password may hold. A redacted userinfo stops at its '<', so
// redacting twice changes nothing.
bool ends_authority(char c) {
  return c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
         c == '"' || c == '<' || c == '>';
}

}  // namespace

std::string redact_url(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t done = 0;
  for (auto found = text.find(scheme_end); found != std::string_view::npos;
       found = text.find(scheme_end, done)) {
    const std::size_t start = found + scheme_end.size();
    std::size_t end = start;
    while (end < text.size() && !ends_authority(text[end]))
      ++end;
    // The userinfo ends at the authority's last '@' (a password may hold an unescaped '@').
    const std::size_t at = text.substr(start, end - start).rfind('@');
    out.append(text.substr(done, start - done));
    if (at != std::string_view::npos) {
      const std::string_view userinfo = text.substr(start, at);
      const std::size_t colon = userinfo.find(':');
      if (colon != std::string_view::npos) out.append(userinfo.substr(0, colon + 1));
      out.append(hidden);
      out.append(text.substr(start + at, end - start - at));
    } else {
      out.append(text.substr(start, end - start));
    }
    done = end;
  }
  out.append(text.substr(done));
  return out;
}

}  // namespace pgship
