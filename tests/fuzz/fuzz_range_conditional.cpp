// Download request headers: Range (parse_range) and If-Match / If-None-Match / If-Range
// (evaluate_preconditions, if_range_holds). Lines: file size (decimal; otherwise the line's
// length), Range, If-Match, If-None-Match, If-Range, and optionally the ETag to compare with.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <pgship/common/http/framing.hpp>

#include "api/conditional.hpp"
#include "api/read_routes.hpp"

namespace {

using namespace pgship::receiver;

using pgship::http_framing::trim_ows;

// The shape of the ETags the receiver sends (a quoted sha256): visible characters, no comma
// (a comma, though legal in an entity-tag, splits the If-Match list).
bool strong_tag(std::string_view t) {
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return false;
  for (const char c : t.substr(1, t.size() - 2)) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '"' || u == ',' || u < 0x21 || u == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  while (lines.size() < 6) {
    const auto newline = input.find('\n');
    lines.push_back(input.substr(0, newline));
    input = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
  }
  std::uint64_t file_size = lines[0].size();
  std::from_chars(lines[0].data(), lines[0].data() + lines[0].size(), file_size);

  byte_range r;
  const auto outcome = parse_range(lines[1], file_size, r);
  if (outcome == range_result::ok) {
    if (r.length == 0 || r.first >= file_size || r.length > file_size - r.first) __builtin_trap();
  }
  if (file_size == 0 && outcome == range_result::ok) __builtin_trap();

  const std::string_view etag =
      lines[5].empty() ? "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\""
                       : lines[5];
  const auto pre = evaluate_preconditions(lines[2], lines[3], etag);
  if (pre == precondition::failed && trim_ows(lines[2]).empty()) __builtin_trap();
  if (pre == precondition::not_modified && trim_ows(lines[3]).empty()) __builtin_trap();
  const bool holds = if_range_holds(lines[4], etag);
  if (holds && !trim_ows(lines[4]).empty() && trim_ows(lines[4]) != etag) __builtin_trap();

  if (evaluate_preconditions("", "", etag) != precondition::proceed) __builtin_trap();
  if (!if_range_holds("", etag)) __builtin_trap();
  if (strong_tag(etag)) {
    if (evaluate_preconditions(etag, "", etag) != precondition::proceed) __builtin_trap();
    if (evaluate_preconditions("*", etag, etag) != precondition::not_modified) __builtin_trap();
    if (!if_range_holds(etag, etag)) __builtin_trap();
  }
  return 0;
}
