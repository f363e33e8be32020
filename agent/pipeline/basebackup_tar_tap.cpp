#include "pipeline/basebackup_tar_tap.hpp"
#include <algorithm>
#include <charconv>

namespace pgship::agent {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The text of `"key": "value"` or `"key": 123` after `from` in `json`; empty when absent.
std::string_view json_value(std::string_view json, std::string_view key, std::size_t from,
                            std::size_t to) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  const auto at = json.find(quoted, from);
  if (at == std::string_view::npos || at >= to) return {};
  auto rest = json.substr(at + quoted.size());
  const auto colon = rest.find(':');
  if (colon == std::string_view::npos) return {};
  rest = trim(rest.substr(colon + 1));
  if (rest.starts_with('"')) {
    const auto close = rest.find('"', 1);
    return close == std::string_view::npos ? std::string_view() : rest.substr(1, close - 1);
  }
  const auto end = rest.find_first_of(",} \r\n");
  return rest.substr(0, end);
}

}  // namespace

void parse_backup_label(std::string_view text, base_backup_positions& out) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const auto colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    const auto key = line.substr(0, colon);
    const auto value = trim(line.substr(colon + 2));
    if (key == "START WAL LOCATION") {
      // "0/2000028 (file 000000010000000000000002)"
      out.label_start = wal::parse_lsn(value.substr(0, value.find(' ')));
    } else if (key == "START TIMELINE") {
      wal::timeline_id tli = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), tli);
      if (ec == std::errc() && end == value.data() + value.size()) out.label_timeline = tli;
    } else if (key == "START TIME") {
      out.start_time = std::string(value);
    }
  }
}

bool parse_manifest_wal_ranges(std::string_view tail, base_backup_positions& out) {
  const auto ranges = tail.rfind("\"WAL-Ranges\"");
  if (ranges == std::string_view::npos) return false;
  const auto close = tail.find(']', ranges);
  const auto end = close == std::string_view::npos ? tail.size() : close;
  // Each range is one object: the first gives the start, the last the end and its timeline.
  bool any = false;
  for (auto at = tail.find('{', ranges); at != std::string_view::npos && at < end;
       at = tail.find('{', at + 1)) {
    const auto object_end = std::min(tail.find('}', at), end);
    const auto tli_text = json_value(tail, "Timeline", at, object_end);
    const auto start = wal::parse_lsn(json_value(tail, "Start-LSN", at, object_end));
    const auto stop = wal::parse_lsn(json_value(tail, "End-LSN", at, object_end));
    wal::timeline_id tli = 0;
    const auto [p, ec] = std::from_chars(tli_text.data(), tli_text.data() + tli_text.size(), tli);
    if (ec != std::errc() || p != tli_text.data() + tli_text.size() || !start || !stop) {
      return false;
    }
    if (!any) out.start = start;
    out.stop = stop;
    out.timeline = tli;
    any = true;
  }
  return any;
}

std::error_code basebackup_tar_tap::write(std::span<const char> data) {
  if (const auto ec = next_.write(data)) return ec;
  // A tar this tap cannot read still passes on: the problem is reported at the end.
  if (problem_.empty() && !found_.complete && reader_.write(data) && problem_.empty()) {
    problem_ = "pg_basebackup's tar cannot be read: " + reader_.problem();
  }
  found_.complete = reader_.complete();
  return {};
}

std::error_code basebackup_tar_tap::finish() {
  if (problem_.empty() && !found_.complete) {
    problem_ = "pg_basebackup's tar ended before its end-of-archive blocks";
  }
  if (problem_.empty() && found_.manifest_sha256.empty()) {
    problem_ = "pg_basebackup's tar holds no backup_manifest";
  }
  return next_.finish();
}

std::error_code basebackup_tar_tap::begin(const tar_member& member) {
  use_ = member_use::skip;
  captured_.clear();
  if (member.type != '0') return {};
  ++found_.members;
  if (member.name == "backup_label") use_ = member_use::label;
  if (member.name == "backup_manifest") {
    use_ = member_use::manifest;
    manifest_hash_ = sha256();
    found_.manifest_size = member.size;
  }
  return {};
}

std::error_code basebackup_tar_tap::data(std::span<const char> bytes) {
  switch (use_) {
    case member_use::skip:
      break;
    case member_use::label:
      if (captured_.size() + bytes.size() <= label_limit)
        captured_.append(bytes.data(), bytes.size());
      break;
    case member_use::manifest:
      manifest_hash_.update(bytes.data(), bytes.size());
      captured_.append(bytes.data(), bytes.size());
      if (captured_.size() > 2 * manifest_tail) {
        captured_.erase(0, captured_.size() - manifest_tail);
      }
      break;
  }
  return {};
}

std::error_code basebackup_tar_tap::end() {
  switch (use_) {
    case member_use::skip:
      break;
    case member_use::label:
      parse_backup_label(captured_, found_);
      break;
    case member_use::manifest:
      found_.manifest_sha256 = to_hex(manifest_hash_.finish());
      if (!parse_manifest_wal_ranges(captured_, found_)) {
        problem_ = "the backup_manifest names no WAL-Ranges";
      }
      break;
  }
  use_ = member_use::skip;
  captured_.clear();
  return {};
}

}  // namespace pgship::agent
