#include "storage/wal_store.hpp"
#include <cstdio>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/io/stored_format.hpp>
#include <pgship/common/time_text.hpp>
#include <pgship/common/wal/wal_names.hpp>

namespace pgship::receiver {
namespace {

namespace json = boost::json;

std::optional<sha256_digest> digest_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return digest_from_hex(v->get_string());
}

}  // namespace

std::optional<wal_file_name> parse_wal_file_name(std::string_view name) {
  if (const auto unit = wal::parse_unit_name(name)) {
    return wal_file_name{unit->segment, unit->stem(), std::string(name)};
  }
  if (const auto history = wal::parse_history_file(name)) {
    return wal_file_name{std::string(wal_history_dir), wal::history_name(history->timeline),
                         std::string(name)};
  }
  return std::nullopt;
}

std::string wal_gap_file_name(const wire::wal::gap_record& gap) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%08X-%016llX-%016llX.json",
                static_cast<unsigned>(gap.timeline), static_cast<unsigned long long>(gap.from),
                static_cast<unsigned long long>(gap.to));
  return buffer;
}

result<wal_put_outcome> wal_store::put_gap(const wal_key&, const wire::wal::gap_record&) {
  return std::make_error_code(std::errc::operation_not_supported);
}

result<std::vector<wire::wal::gap_record>> wal_store::list_gaps(const wal_key&) const {
  return std::vector<wire::wal::gap_record>{};
}

result<std::uint64_t> wal_store::count_gaps(const std::string&) const {
  return std::uint64_t{0};
}

std::optional<std::string> wal_mark_file_name(std::string_view backup_id) {
  const auto name = parse_backup_name(backup_id);
  if (!name || name->kind != backup_kind::basebackup) return std::nullopt;
  return std::string(backup_id) + ".json";
}

result<wal_put_outcome> wal_store::put_basebackup_mark(const wal_key&,
                                                       const wire::wal::basebackup_mark&) {
  return std::make_error_code(std::errc::operation_not_supported);
}

result<std::vector<wire::wal::basebackup_mark>> wal_store::list_basebackup_marks(
    const wal_key&) const {
  return std::vector<wire::wal::basebackup_mark>{};
}

result<std::vector<std::string>> wal_store::systems(const std::string&) const {
  return std::make_error_code(std::errc::operation_not_supported);
}

result<std::vector<std::string>> wal_store::list_systems(const std::string& client) const {
  return systems(client);
}

result<std::vector<std::string>> wal_store::list_segments(const wal_key&) const {
  return std::make_error_code(std::errc::operation_not_supported);
}

std::error_code wal_store::remove_segment(const wal_key&, std::string_view) {
  return std::make_error_code(std::errc::operation_not_supported);
}

std::error_code wal_store::remove_gap(const wal_key&, const wire::wal::gap_record&) {
  return std::make_error_code(std::errc::operation_not_supported);
}

std::error_code wal_store::remove_basebackup_mark(const wal_key&, std::string_view) {
  return std::make_error_code(std::errc::operation_not_supported);
}

std::vector<std::string> wal_codec_variants(std::string_view stem) {
  std::vector<std::string> out;
  for (const auto c : {io::compression::none, io::compression::zstd}) {
    for (const auto e : {io::encryption::none, io::encryption::age}) {
      out.push_back(io::stored_extension(stem, io::stored_format{c, e}));
    }
  }
  return out;
}

std::string to_json(const wal_unit_meta& meta) {
  json::object o;
  o["plaintext_sha256"] = to_hex(meta.plaintext_sha256);
  o["plaintext_size"] = meta.plaintext_size;
  o["stored_sha256"] = to_hex(meta.stored_sha256);
  o["stored_size"] = meta.stored_size;
  o["time_map"] = meta.time_map;
  o["received_at"] = format_utc(meta.received_at, true);
  if (!meta.timeline_switch.empty()) o["timeline_switch"] = meta.timeline_switch;
  return json::serialize(o);
}

std::optional<wal_unit_meta> wal_unit_meta_from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.get_object();
  try {
    wal_unit_meta meta;
    const auto plain = digest_at(o, "plaintext_sha256");
    const auto stored = digest_at(o, "stored_sha256");
    const auto received = parse_utc(json::value_to<std::string>(o.at("received_at")));
    if (!plain || !stored || !received) return std::nullopt;
    meta.plaintext_sha256 = *plain;
    meta.stored_sha256 = *stored;
    meta.plaintext_size = json::value_to<std::uint64_t>(o.at("plaintext_size"));
    meta.stored_size = json::value_to<std::uint64_t>(o.at("stored_size"));
    meta.time_map = json::value_to<std::string>(o.at("time_map"));
    meta.received_at = *received;
    if (const auto* sw = o.if_contains("timeline_switch"); sw != nullptr && sw->is_string())
      meta.timeline_switch = std::string(sw->get_string());
    return meta;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string to_json(const wal_system_meta& meta) {
  json::object o;
  o["segment_size"] = meta.segment_size;
  o["first_seen"] = format_utc(meta.first_seen);
  return json::serialize(o);
}

std::optional<wal_system_meta> wal_system_meta_from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.get_object();
  try {
    wal_system_meta meta;
    meta.segment_size = json::value_to<std::uint64_t>(o.at("segment_size"));
    const auto first_seen = parse_utc(json::value_to<std::string>(o.at("first_seen")));
    if (!first_seen || !wal::valid_segment_size(meta.segment_size)) return std::nullopt;
    meta.first_seen = *first_seen;
    return meta;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace pgship::receiver
