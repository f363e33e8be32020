#include "storage/s3/wal_object_meta.hpp"
#include <charconv>
#include <map>

#include <pgship/common/time_text.hpp>
#include <pgship/common/wire/wal.hpp>

namespace pgship::receiver::s3 {
namespace {

constexpr std::string_view meta_prefix = "x-amz-meta-";
constexpr std::string_view time_map_piece = "time-map-";
constexpr std::size_t piece_bytes = 200;
constexpr std::size_t time_map_limit = 1024;

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::string fitted_time_map(const std::string& time_map) {
  if (time_map.size() <= time_map_limit) return time_map;
  auto samples = wire::wal::decode_time_map(time_map);
  if (!samples) return {};
  auto text = wire::wal::encode_time_map(*samples);
  while (text.size() > time_map_limit && samples->size() > 2) {
    std::vector<wire::wal::time_sample> thinned;
    for (std::size_t i = 0; i < samples->size(); ++i) {
      if (i % 2 == 0 || i + 1 == samples->size()) thinned.push_back((*samples)[i]);
    }
    *samples = std::move(thinned);
    text = wire::wal::encode_time_map(*samples);
  }
  return text;
}

header_list to_object_metadata(const wal_unit_meta& meta) {
  const auto name = [](std::string_view n) { return std::string(meta_prefix) + std::string(n); };
  header_list out{
      {name("plaintext-sha256"), to_hex(meta.plaintext_sha256)},
      {name("plaintext-size"), std::to_string(meta.plaintext_size)},
      {name("stored-sha256"), to_hex(meta.stored_sha256)},
      {name("stored-size"), std::to_string(meta.stored_size)},
      {name("received-at"), format_utc(meta.received_at, true)},
  };
  if (!meta.timeline_switch.empty())
    out.emplace_back(name("timeline-switch"), meta.timeline_switch);
  const auto time_map = fitted_time_map(meta.time_map);
  for (std::size_t at = 0, n = 0; at < time_map.size(); at += piece_bytes, ++n) {
    out.emplace_back(name(std::string(time_map_piece) + std::to_string(n)),
                     time_map.substr(at, piece_bytes));
  }
  return out;
}

std::optional<wal_unit_meta> wal_unit_meta_from_object(const header_list& metadata) {
  std::map<std::string, std::string, std::less<>> fields;
  std::map<std::uint64_t, std::string> pieces;
  for (const auto& [header, value] : metadata) {
    if (!header.starts_with(meta_prefix)) continue;
    const auto field = std::string_view(header).substr(meta_prefix.size());
    if (field.starts_with(time_map_piece)) {
      const auto n = number(field.substr(time_map_piece.size()));
      if (!n) return std::nullopt;
      pieces[*n] = value;
    } else {
      fields[std::string(field)] = value;
    }
  }
  const auto at = [&](std::string_view field) -> std::string_view {
    const auto it = fields.find(field);
    return it == fields.end() ? std::string_view() : std::string_view(it->second);
  };
  const auto plain = digest_from_hex(at("plaintext-sha256"));
  const auto stored = digest_from_hex(at("stored-sha256"));
  const auto plain_size = number(at("plaintext-size"));
  const auto stored_size = number(at("stored-size"));
  const auto received = parse_utc(at("received-at"));
  if (!plain || !stored || !plain_size || !stored_size || !received) return std::nullopt;
  wal_unit_meta meta{*plain,
                     *plain_size,
                     *stored,
                     *stored_size,
                     {},
                     *received,
                     std::string(at("timeline-switch"))};
  std::uint64_t expected = 0;
  for (const auto& [n, piece] : pieces) {
    if (n != expected++) return std::nullopt;  // a piece is missing
    meta.time_map += piece;
  }
  return meta;
}

}  // namespace pgship::receiver::s3
