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

namespace {

// `n` decimal digits at `at`; nullopt unless they are all digits.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t n) {
  if (at + n > text.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<std::chrono::sys_time<std::chrono::microseconds>> parse_rfc3339(
    std::string_view text) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SS is 19 characters; the offset follows, after an optional fraction.
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  const auto y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2),
             h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s) return std::nullopt;
  const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)},
                           day{static_cast<unsigned>(*d)}};
  if (!ymd.ok() || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  std::size_t at = 19;
  microseconds fraction{0};
  if (text[at] == '.') {
    ++at;
    const std::size_t from = at;
    long scale = 100000;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      fraction += microseconds((text[at] - '0') * scale);
      scale /= 10;
      ++at;
    }
    if (at == from) return std::nullopt;
  }
  if (at >= text.size()) return std::nullopt;
  minutes offset{0};
  const char sign = text[at];
  if (sign == 'Z' || sign == 'z') {
    ++at;
  } else if (sign == '+' || sign == '-') {
    const auto oh = digits(text, at + 1, 2);
    const auto om = digits(text, at + 4, 2);
    if (!oh || !om || at + 3 >= text.size() || text[at + 3] != ':' || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset = hours{*oh} + minutes{*om};
    if (sign == '-') offset = -offset;
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  // Local time at the offset: UTC is that minus the offset.
  return sys_days{ymd} + hours{*h} + minutes{*mi} + seconds{*s} + fraction - offset;
}

}  // namespace pgship
