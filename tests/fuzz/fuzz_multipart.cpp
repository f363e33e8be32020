// multipart_boundary and the streaming multipart_parser. Input: a first line holding a
// Content-Type value (or a bare boundary), then the body. The body is parsed once whole and
// once in pieces whose sizes come from a hash of the input: both must see exactly the same.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/raw/multipart.hpp"

namespace {

using pgship::receiver::multipart_parser;
using namespace std::literals;

std::uint64_t mix(std::uint64_t h, std::string_view bytes) {
  for (const char c : bytes)
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// Piece sizes from a hash of the input, so that every mutation moves the split points.
struct splitter {
  std::uint64_t state;
  std::size_t max_piece;
  explicit splitter(std::string_view all) : state(mix(14695981039346656037ull, all) | 1) {
    constexpr std::size_t limits[] = {1, 2, 3, 5, 8, 17, 64, 1000};
    max_piece = limits[state % std::size(limits)];
  }
  std::size_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return 1 + state % max_piece;
  }
};

struct tally {
  bool ok = true;
  bool done = false;
  std::size_t parts = 0;
  std::size_t ends = 0;
  std::size_t bytes = 0;
  std::uint64_t hash = 14695981039346656037ull;

  bool operator==(const tally&) const = default;
};

tally parse(const std::string& boundary, std::string_view body, splitter* split) {
  tally t;
  multipart_parser::callbacks cb{.on_part_begin =
                                     [&t](const multipart_parser::part_info& p) {
                                       ++t.parts;
                                       t.hash = mix(mix(mix(t.hash, "\0begin"sv), p.name),
                                                    p.content_type);
                                       if (p.filename)
                                         t.hash = mix(mix(t.hash, "\0file"sv), *p.filename);
                                       return true;
                                     },
                                 .on_part_data =
                                     [&t](std::string_view data) {
                                       if (data.empty())
                                         __builtin_trap();  // the parser promises bytes
                                       t.bytes += data.size();
                                       t.hash = mix(t.hash, data);
                                       return true;
                                     },
                                 .on_part_end =
                                     [&t] {
                                       ++t.ends;
                                       t.hash = mix(t.hash, "\0end"sv);
                                       return true;
                                     }};
  multipart_parser parser(boundary, std::move(cb), 1024);
  if (split == nullptr) {
    t.ok = parser.feed(body);
  } else {
    while (t.ok && !body.empty() && !parser.done()) {
      const auto n = std::min(split->next(), body.size());
      t.ok = parser.feed(body.substr(0, n));
      body.remove_prefix(n);
    }
  }
  t.done = parser.done();
  if (t.ends > t.parts || t.parts > t.ends + 1) __builtin_trap();
  if (!t.ok && parser.error().empty()) __builtin_trap();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  std::string_view line = input.substr(0, newline);
  if (line.ends_with('\r')) line.remove_suffix(1);
  const std::string_view body = input.substr(newline + 1);

  std::string boundary;
  if (auto parsed = pgship::receiver::multipart_boundary(line)) {
    if (parsed->empty() || parsed->size() > 70) __builtin_trap();
    boundary = std::move(*parsed);
  } else {
    // A bare boundary, within what multipart_boundary could have returned.
    if (line.empty() || line.size() > 70) return 0;
    if (std::any_of(line.begin(), line.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return u < 0x20 || u == 0x7f;
        })) {
      return 0;
    }
    boundary = std::string(line);
  }

  const tally whole = parse(boundary, body, nullptr);
  splitter split(input);
  const tally pieces = parse(boundary, body, &split);
  if (!(whole == pieces)) __builtin_trap();
  return 0;
}
