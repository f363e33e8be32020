#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <pgship/common/config_values.hpp>

namespace pgship::config {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool multiply_checked(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
  out = a * b;
  return true;
}

}  // namespace

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string v = lower(text);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  const auto number = parse_unsigned(text.substr(0, digits));
  if (!number) return std::nullopt;
  const std::string suffix = lower(text.substr(digits));
  static constexpr std::pair<std::string_view, int> units[] = {
      {"", 0},   {"b", 0},   {"k", 1}, {"kb", 1}, {"kib", 1}, {"m", 2},
      {"mb", 2}, {"mib", 2}, {"g", 3}, {"gb", 3}, {"gib", 3}, {"t", 4},
      {"tb", 4}, {"tib", 4}, {"p", 5}, {"pb", 5}, {"pib", 5},
  };
  for (const auto& [name, power] : units) {
    if (suffix != name) continue;
    std::uint64_t value = *number;
    for (int i = 0; i < power; ++i) {
      if (!multiply_checked(value, 1024, value)) return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (auto seconds = parse_unsigned(text)) {
    std::uint64_t ms = 0;
    if (!multiply_checked(*seconds, 1000, ms) ||
        ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
  }
  static constexpr std::pair<std::string_view, std::uint64_t> units[] = {
      {"ms", 1},        {"s", 1000},       {"m", 60'000},
      {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000},
  };
  std::uint64_t total = 0;
  std::string rest = lower(text);
  std::string_view view = rest;
  while (!view.empty()) {
    std::size_t digits = 0;
    while (digits < view.size() && std::isdigit(static_cast<unsigned char>(view[digits])))
      ++digits;
    const auto number = parse_unsigned(view.substr(0, digits));
    if (!number) return std::nullopt;
    view.remove_prefix(digits);
    std::size_t letters = 0;
    while (letters < view.size() && std::isalpha(static_cast<unsigned char>(view[letters])))
      ++letters;
    const std::string_view unit = view.substr(0, letters);
    view.remove_prefix(letters);
    const auto* match = std::find_if(std::begin(units), std::end(units),
                                     [&](const auto& u) { return u.first == unit; });
    if (match == std::end(units)) return std::nullopt;
    std::uint64_t part = 0;
    constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (!multiply_checked(*number, match->second, part) || part > limit || total > limit - part) {
      return std::nullopt;
    }
    total += part;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

std::vector<std::string> parse_list(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace pgship::config
