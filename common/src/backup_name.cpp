#include <pgship/common/backup_name.hpp>
#include <pgship/common/fs.hpp>

namespace pgship {
namespace {

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::system_clock;

// "-YYYYMMDD-HHMMSS": fixed width, so it is cut off the end and the database may contain '-'.
constexpr std::size_t stamp_size = 16;

// Plain ASCII digits only: from_chars would also take a sign. The caller fixes the width.
std::optional<int> parse_digits(std::string_view text) {
  int value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

void append_padded(std::string& out, long long value, std::size_t width) {
  const std::string digits = std::to_string(value);
  if (digits.size() < width) out.append(width - digits.size(), '0');
  out += digits;
}

// system_clock counts nanoseconds in 64 bits (about 1678-2262), so a stamp outside that
// range cannot be a time_point and is not a backup name.
bool representable(std::chrono::sys_seconds t) {
  return t >= std::chrono::ceil<seconds>(system_clock::time_point::min()) &&
         t <= std::chrono::floor<seconds>(system_clock::time_point::max());
}

// "[.zst]" of a codec table: its extensions, each optional ("[.a|.b]" should there be two).
template <std::size_t N>
std::string optional_extensions(const io::codec_name (&table)[N]) {
  std::string out = "[";
  for (std::size_t i = 1; i < N; ++i)
    out += std::string(i > 1 ? "|" : "") + std::string(table[i].extension);
  return out + "]";
}

}  // namespace

std::string backup_name_forms() {
  const auto codecs = optional_extensions(io::compressions) + optional_extensions(io::encryptions);
  return "<database>-<YYYYMMDD>-<HHMMSS>" + std::string(base_extension(backup_kind::dump)) +
         codecs + " or " + std::string(base_extension(backup_kind::archive)) + codecs;
}

std::string_view to_string(backup_kind kind) {
  switch (kind) {
    case backup_kind::dump:
      return "dump";
    case backup_kind::archive:
      return "archive";
    case backup_kind::globals:
      return "globals";
    case backup_kind::basebackup:
      return "basebackup";
  }
  return "dump";
}

std::optional<backup_kind> parse_backup_kind(std::string_view text) {
  for (const auto kind : backup_kinds) {
    if (text == to_string(kind)) return kind;
  }
  return std::nullopt;
}

backup_kind kind_of_extension(std::string_view extension) {
  // Before ".tar": a base backup's extension is a tar's with ".base" in front.
  if (extension.starts_with(".base.tar")) return backup_kind::basebackup;
  if (extension.starts_with(".tar")) return backup_kind::archive;
  if (extension.starts_with(".sql")) return backup_kind::globals;
  return backup_kind::dump;
}

std::string_view base_extension(backup_kind kind) {
  return detail::base_extensions[static_cast<std::size_t>(kind)];
}

std::string_view backup_stem(std::string_view name) {
  // The longest that matches, should one extension ever end another.
  std::string_view best;
  for (const auto ext : backup_extensions) {
    if (name.ends_with(ext) && ext.size() > best.size()) best = ext;
  }
  return name.substr(0, name.size() - best.size());
}

std::optional<backup_name> parse_backup_name(std::string_view file_name) {
  if (!fs::is_safe_name(file_name)) return std::nullopt;
  const std::string_view stem = backup_stem(file_name);
  if (stem.size() == file_name.size()) return std::nullopt;
  if (stem.size() <= stamp_size) return std::nullopt;
  const std::string_view database = stem.substr(0, stem.size() - stamp_size);
  const std::string_view stamp = stem.substr(database.size());
  if (stamp[0] != '-' || stamp[9] != '-') return std::nullopt;

  const auto year = parse_digits(stamp.substr(1, 4));
  const auto month = parse_digits(stamp.substr(5, 2));
  const auto day = parse_digits(stamp.substr(7, 2));
  const auto hour = parse_digits(stamp.substr(10, 2));
  const auto minute = parse_digits(stamp.substr(12, 2));
  const auto second = parse_digits(stamp.substr(14, 2));
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*hour >= 24 || *minute >= 60 || *second >= 60) return std::nullopt;

  const std::chrono::year_month_day date{std::chrono::year{*year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  const std::chrono::sys_seconds taken = std::chrono::sys_days{date} + std::chrono::hours{*hour} +
                                         std::chrono::minutes{*minute} + seconds{*second};
  if (!representable(taken)) return std::nullopt;
  const auto extension = file_name.substr(stem.size());
  const auto kind = kind_of_extension(extension);
  // Only the globals step writes `.sql`: any other name with it is nobody's backup.
  if (kind == backup_kind::globals && database != globals_name) return std::nullopt;
  // Only the base backup writes `.base.tar`, always as pgdata.
  if (kind == backup_kind::basebackup && database != basebackup_name) return std::nullopt;
  return backup_name{std::string(database), taken, std::string(extension), kind};
}

std::string format_backup_name(std::string_view database, system_clock::time_point taken,
                               std::string_view extension) {
  const auto whole = std::chrono::floor<seconds>(taken);
  const auto day = std::chrono::floor<days>(whole);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{whole - day};

  std::string out(database);
  out += '-';
  append_padded(out, static_cast<int>(date.year()), 4);
  append_padded(out, static_cast<unsigned>(date.month()), 2);
  append_padded(out, static_cast<unsigned>(date.day()), 2);
  out += '-';
  append_padded(out, time.hours().count(), 2);
  append_padded(out, time.minutes().count(), 2);
  append_padded(out, time.seconds().count(), 2);
  out += extension;
  return out;
}

}  // namespace pgship
