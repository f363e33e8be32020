#include "ingest/raw/multipart.hpp"
#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>
#include <vector>

#include <pgship/common/config_values.hpp>

namespace pgship::receiver {
namespace {

using config::trim;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// A header value of the form `value; name=token; name="quoted \"string\""`, as Content-Type
// and Content-Disposition use. Parameter names are compared case-insensitively by callers.
struct header_value {
  std::string_view value;
  std::vector<std::pair<std::string_view, std::string>> params;

  const std::string* param(std::string_view name) const {
    for (const auto& [key, v] : params) {
      if (iequals(key, name)) return &v;
    }
    return nullptr;
  }
};

// Reads a quoted-string starting at text[0] == '"'; advances `text` past the closing quote.
std::optional<std::string> read_quoted(std::string_view& text) {
  std::string out;
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out.push_back(text[++i]);
    } else if (text[i] == '"') {
      text.remove_prefix(i + 1);
      return out;
    } else {
      out.push_back(text[i]);
    }
  }
  return std::nullopt;
}

std::optional<header_value> parse_header_value(std::string_view text) {
  header_value out;
  const auto semicolon = text.find(';');
  out.value = trim(text.substr(0, semicolon));
  text.remove_prefix(semicolon == std::string_view::npos ? text.size() : semicolon + 1);
  while (true) {
    text = trim(text);
    if (text.empty()) return out;
    if (text.front() == ';') {  // tolerate empty parameters ("a;;b=c")
      text.remove_prefix(1);
      continue;
    }
    const auto equals = text.find_first_of("=;");
    if (equals == std::string_view::npos || text[equals] != '=') return std::nullopt;
    const std::string_view name = trim(text.substr(0, equals));
    if (name.empty()) return std::nullopt;
    text = trim(text.substr(equals + 1));
    std::string value;
    if (!text.empty() && text.front() == '"') {
      auto quoted = read_quoted(text);
      if (!quoted) return std::nullopt;
      value = std::move(*quoted);
      text = trim(text);
      if (!text.empty() && text.front() != ';') return std::nullopt;
    } else {
      const auto end = text.find(';');
      value = std::string(trim(text.substr(0, end)));
      text.remove_prefix(end == std::string_view::npos ? text.size() : end);
    }
    out.params.emplace_back(name, std::move(value));
    if (!text.empty()) text.remove_prefix(1);  // the ';'
  }
}

// KMP failure function: fallback[k] is the length of the longest proper prefix of
// pattern[0, k) that is also its suffix.
std::vector<std::size_t> failure_function(std::string_view pattern) {
  std::vector<std::size_t> fallback(pattern.size() + 1, 0);
  std::size_t k = 0;
  for (std::size_t i = 1; i < pattern.size(); ++i) {
    while (k > 0 && pattern[i] != pattern[k])
      k = fallback[k];
    if (pattern[i] == pattern[k]) ++k;
    fallback[i + 1] = k;
  }
  return fallback;
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  const auto parsed = parse_header_value(content_type);
  if (!parsed || !iequals(parsed->value, "multipart/form-data")) return std::nullopt;
  const std::string* boundary = parsed->param("boundary");
  if (boundary == nullptr || boundary->empty() || boundary->size() > 70) return std::nullopt;
  // Control characters (CR and LF above all) would let the boundary break the line structure.
  for (const char c : *boundary) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return std::nullopt;
  }
  return *boundary;
}

struct multipart_parser::state {
  enum class phase {
    preamble,        // before the first delimiter: discarded
    delimiter_tail,  // just after "--boundary": "--", or padding then CRLF
    closing_dash,    // after "--boundary-"
    padding,         // linear white space after the boundary
    line_end,        // after the CR that ends the boundary line
    headers,         // a part's header section, up to the blank line
    body,            // a part's data, up to the next delimiter
    done,
    failed,
  };

  // "\r\n--boundary": the CRLF before a boundary belongs to the delimiter, not to the data.
  std::string delimiter;
  std::vector<std::size_t> fallback;
  callbacks cb;
  std::size_t max_header_bytes;

  phase at = phase::preamble;
  // How many bytes of `delimiter` the input ends with. Those bytes are held back from the
  // data, and need no buffer: they are delimiter[0, matched). Starts at 2, as if the body
  // were preceded by CRLF, so a boundary on the very first line is found.
  std::size_t matched = 2;
  bool in_part = false;
  std::string header;
  std::string error;

  bool fail(std::string message) {
    at = phase::failed;
    error = std::move(message);
    return false;
  }

  std::size_t advance(std::size_t k, char c) const {
    while (k > 0 && delimiter[k] != c)
      k = fallback[k];
    return delimiter[k] == c ? k + 1 : 0;
  }

  bool emit(std::string_view data) {
    if (at != phase::body || data.empty() || !cb.on_part_data) return true;
    return cb.on_part_data(data) || fail("the part data handler stopped the upload");
  }

  bool scan(std::string_view& bytes);
  bool on_delimiter();
  bool read_delimiter_tail(std::string_view& bytes);
  bool read_header(std::string_view& bytes);
  bool begin_part();
  std::optional<part_info> parse_part_headers();
};

// Passes part data through while looking for the delimiter. The bytes not yet emitted are
// the `carried` held bytes from earlier chunks (delimiter[0, carried)) followed by this chunk;
// they are emitted only at a delimiter and at the end of the chunk, so a chunk costs at most
// two data callbacks however many delimiter-like bytes it holds.
bool multipart_parser::state::scan(std::string_view& bytes) {
  const std::size_t carried = matched;
  std::size_t emitted = 0;
  const auto flush = [&](std::size_t end) {
    const std::string_view held = std::string_view(delimiter).substr(0, carried);
    const bool ok = (emitted >= carried || emit(held.substr(emitted, end - emitted))) &&
                    (end <= carried || emit(bytes.substr(std::max(emitted, carried) - carried,
                                                         end - std::max(emitted, carried))));
    emitted = end;
    return ok;
  };

  for (std::size_t i = 0; i < bytes.size();) {
    if (matched == 0) {
      // Most data holds no delimiter start at all: skip to the next candidate.
      const void* hit = std::memchr(bytes.data() + i, delimiter[0], bytes.size() - i);
      if (hit == nullptr) break;
      i = static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data()) + 1;
      matched = 1;
    } else {
      matched = advance(matched, bytes[i++]);
    }
    if (matched == delimiter.size()) {
      matched = 0;
      if (!flush(carried + i - delimiter.size())) return false;
      bytes.remove_prefix(i);
      return on_delimiter();
    }
  }
  // Everything but the bytes that may still begin a delimiter.
  if (!flush(carried + bytes.size() - matched)) return false;
  bytes = {};
  return true;
}

bool multipart_parser::state::on_delimiter() {
  at = phase::delimiter_tail;
  if (!in_part) return true;
  in_part = false;
  if (cb.on_part_end && !cb.on_part_end()) return fail("the part end handler stopped the upload");
  return true;
}

bool multipart_parser::state::read_delimiter_tail(std::string_view& bytes) {
  while (!bytes.empty()) {
    const char c = bytes.front();
    bytes.remove_prefix(1);
    switch (at) {
      case phase::delimiter_tail:
        if (c == '-') {
          at = phase::closing_dash;
        } else if (c == '\r') {
          at = phase::line_end;
        } else if (is_blank(c)) {
          at = phase::padding;
        } else {
          return fail("unexpected text after a multipart boundary");
        }
        break;
      case phase::closing_dash:
        if (c != '-') return fail("unexpected text after a multipart boundary");
        at = phase::done;
        return true;
      case phase::padding:
        if (c == '\r') {
          at = phase::line_end;
        } else if (!is_blank(c)) {
          return fail("unexpected text after a multipart boundary");
        }
        break;
      case phase::line_end:
        if (c != '\n') return fail("multipart boundary line not ended by CRLF");
        at = phase::headers;
        header.clear();
        return true;
      default:
        return true;
    }
  }
  return true;
}

bool multipart_parser::state::read_header(std::string_view& bytes) {
  while (!bytes.empty()) {
    header.push_back(bytes.front());
    bytes.remove_prefix(1);
    if (header.size() > max_header_bytes) {
      return fail("multipart part headers larger than " + std::to_string(max_header_bytes) +
                  " bytes");
    }
    if (header == "\r\n" || header.ends_with("\r\n\r\n")) return begin_part();
  }
  return true;
}

bool multipart_parser::state::begin_part() {
  const auto info = parse_part_headers();
  if (!info) return false;
  header.clear();
  at = phase::body;
  matched = 0;
  in_part = true;
  if (cb.on_part_begin && !cb.on_part_begin(*info)) {
    return fail("the part begin handler stopped the upload");
  }
  return true;
}

std::optional<multipart_parser::part_info> multipart_parser::state::parse_part_headers() {
  // Unfold the lines first: an obsolete folded line continues the previous header.
  std::vector<std::pair<std::string_view, std::string>> fields;
  std::string_view rest = std::string_view(header).substr(0, header.size() - 2);
  while (!rest.empty()) {
    const auto crlf = rest.find("\r\n");
    const std::string_view line = rest.substr(0, crlf);
    rest.remove_prefix(crlf == std::string_view::npos ? rest.size() : crlf + 2);
    if (!line.empty() && is_blank(line.front()) && !fields.empty()) {
      fields.back().second += ' ';
      fields.back().second += trim(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || trim(line.substr(0, colon)).empty()) {
      fail("malformed multipart part header line");
      return std::nullopt;
    }
    fields.emplace_back(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }

  part_info info;
  bool disposition_seen = false;
  for (const auto& [name, value] : fields) {
    if (iequals(name, "Content-Type")) {
      info.content_type = value;
    } else if (iequals(name, "Content-Disposition")) {
      // Two dispositions could name two different fields; refuse rather than pick one.
      if (disposition_seen) {
        fail("multipart part has two Content-Disposition headers");
        return std::nullopt;
      }
      disposition_seen = true;
      const auto parsed = parse_header_value(value);
      if (!parsed || !iequals(parsed->value, "form-data")) {
        fail("multipart part Content-Disposition is not form-data");
        return std::nullopt;
      }
      const std::string* field_name = parsed->param("name");
      if (field_name == nullptr) {
        fail("multipart part Content-Disposition has no name");
        return std::nullopt;
      }
      info.name = *field_name;
      if (const std::string* filename = parsed->param("filename")) info.filename = *filename;
    }
  }
  if (!disposition_seen) {
    fail("multipart part has no Content-Disposition");
    return std::nullopt;
  }
  return info;
}

multipart_parser::multipart_parser(std::string boundary, callbacks cb, std::size_t max_header_bytes)
    : state_(std::make_shared<state>()) {
  state_->delimiter = "\r\n--" + boundary;
  state_->fallback = failure_function(state_->delimiter);
  state_->cb = std::move(cb);
  state_->max_header_bytes = max_header_bytes;
}

bool multipart_parser::feed(std::string_view bytes) {
  state& s = *state_;
  if (s.at == state::phase::done) {
    s.error = "multipart data after the final boundary";
    return false;
  }
  while (!bytes.empty()) {
    bool ok = true;
    switch (s.at) {
      case state::phase::preamble:
      case state::phase::body:
        ok = s.scan(bytes);
        break;
      case state::phase::delimiter_tail:
      case state::phase::closing_dash:
      case state::phase::padding:
      case state::phase::line_end:
        ok = s.read_delimiter_tail(bytes);
        break;
      case state::phase::headers:
        ok = s.read_header(bytes);
        break;
      case state::phase::done:
        return true;  // the epilogue, ignored
      case state::phase::failed:
        return false;
    }
    if (!ok) return false;
  }
  return s.at != state::phase::failed;
}

bool multipart_parser::done() const {
  return state_->at == state::phase::done;
}

const std::string& multipart_parser::error() const {
  return state_->error;
}

}  // namespace pgship::receiver
