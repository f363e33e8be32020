#include <cstdio>

#include <pgship/common/time_text.hpp>

namespace pgship {

std::string format_utc(std::chrono::system_clock::time_point t, bool millis) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[48];
  const int n = std::snprintf(
      buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", int(ymd.year()), unsigned(ymd.month()),
      unsigned(ymd.day()), static_cast<int>(hms.hours().count()),
      static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  std::string out(buf, static_cast<std::size_t>(n));
  if (millis) {
    std::snprintf(buf, sizeof buf, ".%03d",
                  static_cast<int>(duration_cast<milliseconds>(t - secs).count()));
    out += buf;
  }
  return out + "Z";
}

std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text) {
  using namespace std::chrono;
  if (text.size() < 20 || text.back() != 'Z') return std::nullopt;
  int y, mo, d, h, mi, s;
  char tail[32] = {};
  const std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &y, &mo, &d, &h, &mi, &s, tail) !=
      7) {
    return std::nullopt;
  }
  const std::string_view rest(tail);
  if (rest != "Z" && !(rest.starts_with(".") && rest.ends_with("Z"))) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{s};
}

}  // namespace pgship
