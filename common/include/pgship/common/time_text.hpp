#pragma once
// UTC timestamps as text: ISO 8601 (`2026-11-21T15:04:05Z`, optionally with milliseconds).
// GCC 12's libstdc++ has neither std::format nor std::chrono::parse, hence these.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgship {

/// "YYYY-MM-DDTHH:MM:SSZ", or with ".mmmZ" when `millis` is set.
std::string format_utc(std::chrono::system_clock::time_point t, bool millis = false);

/// Parses "YYYY-MM-DDTHH:MM:SSZ" (optional fraction of a second is accepted and dropped).
std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text);

/// Parses an RFC 3339 time with its offset: "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)",
/// 'T' or a space between date and time, the fraction kept to the microsecond. A time without
/// an offset is refused: it would be read in some zone nobody named.
std::optional<std::chrono::sys_time<std::chrono::microseconds>> parse_rfc3339(
    std::string_view text);

}  // namespace pgship
