#pragma once
// Parsers for the value syntaxes configuration keys use. Pure functions: nullopt means
// "not of that syntax"; the config getters turn that into a message naming the key.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgship::config {

/// true/false, yes/no, on/off, 1/0 (any case).
std::optional<bool> parse_bool(std::string_view text);

/// A whole decimal integer, optional leading '-'; nothing else around it.
std::optional<std::int64_t> parse_int(std::string_view text);

/// Bytes with an optional binary suffix: "1024", "64K", "16M", "16MiB", "1G", "1TB", "2t".
/// Suffixes are powers of 1024 whatever their spelling, as operators of backup tools expect.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// A duration: a bare number of seconds ("60") or number+unit parts ("500ms", "90s", "5m",
/// "1h30m", "2d", "1w").
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

/// Comma-separated list, each entry trimmed, empty entries dropped.
std::vector<std::string> parse_list(std::string_view text);

std::string_view trim(std::string_view text);

}  // namespace pgship::config
