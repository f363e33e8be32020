#include <cctype>
#include <charconv>
#include <cstdio>

#include <pgship/common/wal/wal_names.hpp>

namespace pgship::wal {

namespace {

bool is_upper_hex(std::string_view text) {
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
  return !text.empty();
}

template <class Int>
std::optional<Int> parse_hex(std::string_view text) {
  Int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The part of a name before its codec extensions, and the format they say; nullopt when what
// follows the stem is not exactly what io::stored_extension writes.
std::optional<std::string_view> strip_codecs(std::string_view name, io::stored_format& format) {
  format = io::format_of_name(name);
  std::string extension = io::stored_extension("", format);
  if (name.size() <= extension.size() || !name.ends_with(extension)) return std::nullopt;
  return name.substr(0, name.size() - extension.size());
}

}  // namespace

std::string format_lsn(lsn position) {
  char text[24];
  std::snprintf(text, sizeof text, "%X/%X", static_cast<unsigned>(position >> 32),
                static_cast<unsigned>(position & 0xffffffffu));
  return text;
}

std::optional<lsn> parse_lsn(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > 8 || text.size() - slash - 1 > 8)
    return std::nullopt;
  std::string_view high = text.substr(0, slash), low = text.substr(slash + 1);
  for (std::string_view part : {high, low})
    for (char c : part)
      if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  auto h = parse_hex<std::uint32_t>(high);
  auto l = parse_hex<std::uint32_t>(low);
  if (!h || !l) return std::nullopt;
  return (static_cast<lsn>(*h) << 32) | *l;
}

bool valid_segment_size(std::uint64_t segment_size) {
  return segment_size >= (1u << 20) && segment_size <= (1u << 30) &&
         (segment_size & (segment_size - 1)) == 0;
}

std::string segment_name(const segment_id& segment, std::uint64_t segment_size) {
  const std::uint64_t per_id = 0x100000000ull / segment_size;
  char text[25];
  std::snprintf(text, sizeof text, "%08X%08X%08X", segment.timeline,
                static_cast<unsigned>(segment.number / per_id),
                static_cast<unsigned>(segment.number % per_id));
  return text;
}

bool is_segment_name(std::string_view name) {
  return name.size() == 24 && is_upper_hex(name);
}

std::optional<segment_id> parse_segment_name(std::string_view name, std::uint64_t segment_size) {
  if (!is_segment_name(name) || !valid_segment_size(segment_size)) return std::nullopt;
  const std::uint64_t per_id = 0x100000000ull / segment_size;
  auto tli = parse_hex<std::uint32_t>(name.substr(0, 8));
  auto log = parse_hex<std::uint32_t>(name.substr(8, 8));
  auto seg = parse_hex<std::uint32_t>(name.substr(16, 8));
  if (!tli || !log || !seg || *tli == 0 || *seg >= per_id) return std::nullopt;
  return segment_id{*tli, static_cast<std::uint64_t>(*log) * per_id + *seg};
}

std::string history_name(timeline_id timeline) {
  char text[24];
  std::snprintf(text, sizeof text, "%08X.history", timeline);
  return text;
}

std::optional<timeline_id> parse_history_name(std::string_view name) {
  constexpr std::string_view suffix = ".history";
  if (name.size() != 8 + suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  if (!is_upper_hex(name.substr(0, 8))) return std::nullopt;
  auto tli = parse_hex<std::uint32_t>(name.substr(0, 8));
  if (!tli || *tli == 0) return std::nullopt;
  return *tli;
}

std::string unit_stem(std::string_view segment, std::uint32_t start, std::uint32_t end) {
  char offsets[20];
  std::snprintf(offsets, sizeof offsets, ".%08X-%08X", start, end);
  return std::string(segment) + offsets;
}

std::string unit_name::stem() const {
  return unit_stem(segment, start, end);
}

std::string unit_name::file_name() const {
  return stem() + io::stored_extension("", format);
}

std::optional<unit_name> parse_unit_name(std::string_view name) {
  io::stored_format format;
  auto stem = strip_codecs(name, format);
  // 24 + "." + 8 + "-" + 8
  if (!stem || stem->size() != 42 || (*stem)[24] != '.' || (*stem)[33] != '-') return std::nullopt;
  std::string_view segment = stem->substr(0, 24), start = stem->substr(25, 8),
                   end = stem->substr(34, 8);
  if (!is_segment_name(segment) || !is_upper_hex(start) || !is_upper_hex(end)) return std::nullopt;
  auto s = parse_hex<std::uint32_t>(start);
  auto e = parse_hex<std::uint32_t>(end);
  // A segment is at most 1 GiB.
  if (!s || !e || *s >= *e || *e > (1u << 30)) return std::nullopt;
  return unit_name{std::string(segment), *s, *e, format};
}

std::optional<history_file> parse_history_file(std::string_view name) {
  io::stored_format format;
  auto stem = strip_codecs(name, format);
  if (!stem) return std::nullopt;
  auto tli = parse_history_name(*stem);
  if (!tli) return std::nullopt;
  return history_file{*tli, format};
}

}  // namespace pgship::wal
