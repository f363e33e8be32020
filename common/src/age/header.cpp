#include "header.hpp"

#include <pgship/common/age/age_errors.hpp>
#include <pgship/common/base64.hpp>

namespace pgship::age::detail {
namespace {

constexpr std::string_view intro = "age-encryption.org/";
constexpr std::string_view v1_line = "age-encryption.org/v1";
constexpr std::size_t wrap = 64;

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool is_vchar(char c) {
  return c >= 0x21 && c <= 0x7e;
}

// Reads lines off the front of the header; an incomplete line means more bytes are needed.
class line_reader {
 public:
  explicit line_reader(std::string_view bytes) : bytes_(bytes) {}
  std::optional<std::string_view> next() {
    const auto nl = bytes_.find('\n', pos_);
    if (nl == std::string_view::npos) return std::nullopt;
    const auto line = bytes_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return line;
  }
  std::size_t pos() const { return pos_; }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

std::optional<header> invalid(std::error_code& ec, errc e = errc::header_invalid) {
  ec = e;
  return std::nullopt;
}

}  // namespace

std::string base64_raw(std::string_view bytes) {
  auto text = base64_encode(bytes);
  while (!text.empty() && text.back() == '=')
    text.pop_back();
  return text;
}

std::optional<std::string> unbase64_raw(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  for (const char c : text)
    if (!is_base64_char(c)) return std::nullopt;
  std::string padded(text);
  padded.append((4 - text.size() % 4) % 4, '=');
  auto out = base64_decode(padded);
  // Canonical: the unused bits of the last character are zero, so encoding gives it back.
  if (!out || base64_raw(*out) != text) return std::nullopt;
  return out;
}

std::optional<header> parse_header(std::string_view bytes, std::error_code& ec) {
  ec.clear();
  line_reader lines(bytes);
  const auto first = lines.next();
  if (!first) {
    // Refuse early what can never become an age header.
    const auto head = bytes.substr(0, intro.size());
    if (intro.substr(0, head.size()) != head) return invalid(ec, errc::not_age);
    return std::nullopt;
  }
  if (*first != v1_line) {
    return invalid(ec, first->starts_with(intro) ? errc::unsupported_version : errc::not_age);
  }
  header h;
  for (;;) {
    const auto start = lines.pos();
    const auto line = lines.next();
    if (!line) return std::nullopt;
    if (line->starts_with("---")) {
      if (h.stanzas.empty() || !line->starts_with("--- ")) return invalid(ec);
      auto mac = unbase64_raw(line->substr(4));
      if (!mac || mac->size() != 32) return invalid(ec);
      h.mac = std::move(*mac);
      h.mac_input_size = start + 3;
      h.size = lines.pos();
      return h;
    }
    if (!line->starts_with("-> ")) return invalid(ec);
    stanza s;
    std::string_view rest = line->substr(3);
    for (;;) {
      const auto sp = rest.find(' ');
      const auto arg = rest.substr(0, sp);
      if (arg.empty()) return invalid(ec);
      for (const char c : arg)
        if (!is_vchar(c)) return invalid(ec);
      s.args.emplace_back(arg);
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
    std::string body;
    for (;;) {
      const auto body_line = lines.next();
      if (!body_line) return std::nullopt;
      if (body_line->size() > wrap) return invalid(ec);
      body.append(*body_line);
      if (body_line->size() < wrap) break;
    }
    auto decoded = unbase64_raw(body);
    if (!decoded) return invalid(ec);
    s.body = std::move(*decoded);
    h.stanzas.push_back(std::move(s));
  }
}

std::string format_stanzas(const std::vector<stanza>& stanzas) {
  std::string out(v1_line);
  out.push_back('\n');
  for (const auto& s : stanzas) {
    out += "->";
    for (const auto& a : s.args) {
      out.push_back(' ');
      out += a;
    }
    out.push_back('\n');
    const auto body = base64_raw(s.body);
    std::size_t at = 0;
    // Full lines, then a final shorter one, which is empty when the body fills its last line.
    for (; body.size() - at >= wrap; at += wrap) {
      out.append(body, at, wrap);
      out.push_back('\n');
    }
    out.append(body, at);
    out.push_back('\n');
  }
  out += "---";
  return out;
}

}  // namespace pgship::age::detail
