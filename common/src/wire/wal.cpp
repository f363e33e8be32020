#include <charconv>
#include <limits>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>

#include <pgship/common/time_text.hpp>
#include <pgship/common/wire/wal.hpp>

namespace pgship::wire::wal {

namespace lsns = pgship::wal;

namespace {

template <class Int>
std::optional<Int> parse_decimal(std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

bool is_system_id(std::string_view text) {
  if (text.empty() || text.size() > 20) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return parse_decimal<std::uint64_t>(text).has_value();
}

std::string system_path(std::string_view system) {
  return std::string(prefix) + std::string(system);
}

std::string unit_path(std::string_view system, std::string_view unit_file_name) {
  return system_path(system) + std::string(units_part) + std::string(unit_file_name);
}

std::string segment_path(std::string_view system, std::string_view segment_or_history) {
  return system_path(system) + std::string(segments_part) + std::string(segment_or_history);
}

std::string bundle_path(std::string_view system, std::string_view segment_or_history) {
  return system_path(system) + std::string(bundles_part) + std::string(segment_or_history);
}

std::string gaps_path(std::string_view system) {
  return system_path(system) + std::string(gaps_part);
}

std::string basebackup_mark_path(std::string_view system, std::string_view backup_id) {
  return system_path(system) + std::string(basebackups_part) + std::string(backup_id);
}

std::string encode_time_map(const std::vector<time_sample>& samples) {
  std::string out;
  for (const auto& s : samples) {
    if (!out.empty()) out += ',';
    out += std::to_string(s.unix_ms) + '@' + lsns::format_lsn(s.position);
  }
  return out;
}

std::optional<std::vector<time_sample>> decode_time_map(std::string_view text) {
  std::vector<time_sample> samples;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto at = item.find('@');
    if (at == std::string_view::npos) return std::nullopt;
    auto ms = parse_decimal<std::int64_t>(item.substr(0, at));
    auto position = lsns::parse_lsn(item.substr(at + 1));
    if (!ms || !position) return std::nullopt;
    samples.push_back({*ms, *position});
    if (comma != std::string_view::npos && text.empty()) return std::nullopt;
  }
  return samples;
}

std::string encode_switch(const switch_point& point) {
  return std::to_string(point.parent) + '@' + lsns::format_lsn(point.at);
}

std::optional<switch_point> decode_switch(std::string_view text) {
  const auto at = text.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  const auto parent = parse_decimal<pgship::wal::timeline_id>(text.substr(0, at));
  const auto position = lsns::parse_lsn(text.substr(at + 1));
  if (!parent || *parent == 0 || !position) return std::nullopt;
  return switch_point{*parent, *position};
}

std::string_view to_string(list_state state) {
  switch (state) {
    case list_state::complete:
      return "complete";
    case list_state::partial:
      return "partial";
    case list_state::history:
      return "history";
  }
  return "complete";
}

std::string encode_list(const segment_list& list) {
  std::string out = std::string(list_magic) + ' ' + std::to_string(list.segment_size) + ' ' +
                    std::string(to_string(list.state)) + '\n';
  for (const auto& u : list.units)
    out += u.unit + ' ' + std::to_string(u.start) + '\n';
  return out;
}

namespace {

std::optional<list_state> list_state_of(std::string_view word) {
  if (word == "complete") return list_state::complete;
  if (word == "partial") return list_state::partial;
  if (word == "history") return list_state::history;
  return std::nullopt;
}

}  // namespace

std::optional<segment_list> decode_list(std::string_view body) {
  segment_list list;
  bool first = true;
  while (!body.empty()) {
    auto newline = body.find('\n');
    if (newline == std::string_view::npos) return std::nullopt;
    std::string_view line = body.substr(0, newline);
    body.remove_prefix(newline + 1);
    if (first) {
      first = false;
      if (!line.starts_with(list_magic) || line.size() <= list_magic.size() ||
          line[list_magic.size()] != ' ')
        return std::nullopt;
      line.remove_prefix(list_magic.size() + 1);
      auto space = line.find(' ');
      if (space == std::string_view::npos) return std::nullopt;
      auto size = parse_decimal<std::uint64_t>(line.substr(0, space));
      std::string_view state = line.substr(space + 1);
      if (!size) return std::nullopt;
      list.segment_size = *size;
      const auto parsed = list_state_of(state);
      if (!parsed) return std::nullopt;
      list.state = *parsed;
      continue;
    }
    auto space = line.find(' ');
    if (space == std::string_view::npos || space == 0) return std::nullopt;
    auto start = parse_decimal<std::uint32_t>(line.substr(space + 1));
    if (!start) return std::nullopt;
    list.units.push_back({std::string(line.substr(0, space)), *start});
  }
  if (first) return std::nullopt;
  return list;
}

namespace {

// The space-separated words of `line`; empty words (two spaces) make it malformed.
std::optional<std::vector<std::string_view>> words_of(std::string_view line) {
  std::vector<std::string_view> out;
  while (true) {
    const auto space = line.find(' ');
    const auto word = line.substr(0, space);
    if (word.empty()) return std::nullopt;
    out.push_back(word);
    if (space == std::string_view::npos) return out;
    line.remove_prefix(space + 1);
  }
}

}  // namespace

std::string encode_bundle_head(const bundle_head& head) {
  std::string out = std::string(bundle_magic) + ' ' + std::to_string(head.segment_size) + ' ' +
                    std::string(to_string(head.state)) + '\n';
  for (const auto& u : head.units) {
    out += u.unit + ' ' + std::to_string(u.start) + ' ' + std::to_string(u.stored_size) + ' ' +
           to_hex(u.stored_sha256) + ' ' + to_hex(u.plaintext_sha256) + '\n';
  }
  return out + '\n';
}

std::optional<bundle_head> decode_bundle_head(std::string_view text) {
  bundle_head head;
  bool first = true;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos) return std::nullopt;
    const auto line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    if (first) {
      first = false;
      if (!line.starts_with(bundle_magic)) return std::nullopt;
      const auto words = words_of(line.substr(std::min(line.size(), bundle_magic.size() + 1)));
      if (line.size() <= bundle_magic.size() || line[bundle_magic.size()] != ' ' || !words ||
          words->size() != 2)
        return std::nullopt;
      const auto size = parse_decimal<std::uint64_t>((*words)[0]);
      const auto state = list_state_of((*words)[1]);
      if (!size || !state) return std::nullopt;
      head.segment_size = *size;
      head.state = *state;
      continue;
    }
    const auto words = words_of(line);
    if (!words || words->size() != 5) return std::nullopt;
    const auto start = parse_decimal<std::uint32_t>((*words)[1]);
    const auto size = parse_decimal<std::uint64_t>((*words)[2]);
    const auto stored = digest_from_hex((*words)[3]);
    const auto plain = digest_from_hex((*words)[4]);
    if (!start || !size || !stored || !plain) return std::nullopt;
    head.units.push_back({std::string((*words)[0]), *start, *size, *stored, *plain});
  }
  if (first) return std::nullopt;
  return head;
}

namespace {

boost::json::object gap_json(const gap_record& gap) {
  return boost::json::object{{"timeline", gap.timeline},
                             {"from", lsns::format_lsn(gap.from)},
                             {"to", lsns::format_lsn(gap.to)},
                             {"reason", gap.reason},
                             {"detected_at", gap.detected_at}};
}

std::optional<gap_record> gap_of(const boost::json::value& value) {
  if (!value.is_object()) return std::nullopt;
  const auto& o = value.get_object();
  try {
    gap_record gap;
    gap.timeline = boost::json::value_to<std::uint32_t>(o.at("timeline"));
    const auto from = lsns::parse_lsn(boost::json::value_to<std::string>(o.at("from")));
    const auto to = lsns::parse_lsn(boost::json::value_to<std::string>(o.at("to")));
    gap.reason = boost::json::value_to<std::string>(o.at("reason"));
    gap.detected_at = boost::json::value_to<std::string>(o.at("detected_at"));
    if (!from || !to || *from >= *to || gap.timeline == 0 || gap.reason.empty() ||
        gap.reason.size() > 200 || gap.detected_at.size() > 64)
      return std::nullopt;
    gap.from = *from;
    gap.to = *to;
    return gap;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string encode_gap(const gap_record& gap) {
  return boost::json::serialize(gap_json(gap));
}

std::optional<gap_record> decode_gap(std::string_view json) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(json, ec);
  if (ec) return std::nullopt;
  return gap_of(value);
}

namespace {

std::string utc_of_ms(std::int64_t unix_ms) {
  return format_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(unix_ms)),
                    true);
}

// "YYYY-MM-DDTHH:MM:SS[.fff...]Z" to unix ms (parse_utc drops the fraction; it is kept here).
std::optional<std::int64_t> ms_of_utc(std::string_view text) {
  const auto whole = parse_utc(text);
  if (!whole) return std::nullopt;
  std::int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(whole->time_since_epoch()).count();
  if (const auto dot = text.find('.'); dot != std::string_view::npos) {
    std::int64_t scale = 100;
    for (auto i = dot + 1; i < text.size() && text[i] >= '0' && text[i] <= '9' && scale; ++i) {
      ms += (text[i] - '0') * scale;
      scale /= 10;
    }
  }
  return ms;
}

std::optional<std::int64_t> ms_of(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() &&
      v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_string()) return ms_of_utc(v.get_string());
  return std::nullopt;
}

boost::json::object mark_json(const basebackup_mark& mark) {
  return boost::json::object{{"id", mark.id},
                             {"timeline", mark.timeline},
                             {"start_lsn", lsns::format_lsn(mark.start_lsn)},
                             {"stop_lsn", lsns::format_lsn(mark.stop_lsn)},
                             {"stop_time", mark.stop_time_ms},
                             {"stop_time_utc", utc_of_ms(mark.stop_time_ms)},
                             {"complete", true}};
}

std::optional<basebackup_mark> mark_of(const boost::json::value& value) {
  if (!value.is_object()) return std::nullopt;
  const auto& o = value.get_object();
  try {
    basebackup_mark mark;
    if (const auto* id = o.if_contains("id")) mark.id = boost::json::value_to<std::string>(*id);
    mark.timeline = boost::json::value_to<std::uint32_t>(o.at("timeline"));
    const auto start = lsns::parse_lsn(boost::json::value_to<std::string>(o.at("start_lsn")));
    const auto stop = lsns::parse_lsn(boost::json::value_to<std::string>(o.at("stop_lsn")));
    const auto stop_time = ms_of(o.at("stop_time"));
    if (!start || !stop || *start > *stop || mark.timeline == 0 || !stop_time ||
        mark.id.size() > 255)
      return std::nullopt;
    mark.start_lsn = *start;
    mark.stop_lsn = *stop;
    mark.stop_time_ms = *stop_time;
    return mark;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::string encode_mark(const basebackup_mark& mark) {
  return boost::json::serialize(mark_json(mark));
}

std::optional<basebackup_mark> decode_mark(std::string_view json) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(json, ec);
  if (ec) return std::nullopt;
  return mark_of(value);
}

std::optional<archive_state::position> archive_state::durable_end() const {
  for (auto t = timelines.rbegin(); t != timelines.rend(); ++t)
    if (!t->ranges.empty()) return position{t->timeline, t->ranges.back().to};
  return std::nullopt;
}

std::string encode_state(const archive_state& state) {
  boost::json::object o;
  o["system"] = state.system;
  o["segment_size"] = state.segment_size;
  boost::json::array timelines;
  for (const auto& t : state.timelines) {
    boost::json::object tj;
    tj["timeline"] = t.timeline;
    tj["history"] = t.history;
    boost::json::array ranges;
    for (const auto& r : t.ranges)
      ranges.push_back(
          boost::json::object{{"from", lsns::format_lsn(r.from)}, {"to", lsns::format_lsn(r.to)}});
    tj["ranges"] = std::move(ranges);
    timelines.push_back(std::move(tj));
  }
  o["timelines"] = std::move(timelines);
  boost::json::array gaps;
  for (const auto& g : state.gaps)
    gaps.push_back(gap_json(g));
  o["gaps"] = std::move(gaps);
  boost::json::array backups;
  for (const auto& b : state.basebackups)
    backups.push_back(mark_json(b));
  o["basebackups"] = std::move(backups);
  if (state.pitr)
    o["pitr"] = boost::json::object{{"oldest", state.pitr->oldest_ms},
                                    {"newest", state.pitr->newest_ms},
                                    {"oldest_utc", utc_of_ms(state.pitr->oldest_ms)},
                                    {"newest_utc", utc_of_ms(state.pitr->newest_ms)}};
  else
    o["pitr"] = nullptr;
  if (auto end = state.durable_end())
    o["durable"] =
        boost::json::object{{"timeline", end->timeline}, {"lsn", lsns::format_lsn(end->at)}};
  else
    o["durable"] = nullptr;
  return boost::json::serialize(o);
}

std::optional<archive_state> decode_state(std::string_view json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  if (ec || !value.is_object()) return std::nullopt;
  try {
    const auto& o = value.get_object();
    archive_state state;
    state.system = boost::json::value_to<std::string>(o.at("system"));
    state.segment_size = boost::json::value_to<std::uint64_t>(o.at("segment_size"));
    for (const auto& tv : o.at("timelines").as_array()) {
      const auto& tj = tv.as_object();
      timeline_state t;
      t.timeline = boost::json::value_to<std::uint32_t>(tj.at("timeline"));
      t.history = tj.at("history").as_bool();
      for (const auto& rv : tj.at("ranges").as_array()) {
        const auto& rj = rv.as_object();
        auto from = lsns::parse_lsn(boost::json::value_to<std::string>(rj.at("from")));
        auto to = lsns::parse_lsn(boost::json::value_to<std::string>(rj.at("to")));
        if (!from || !to || *from >= *to) return std::nullopt;
        t.ranges.push_back({*from, *to});
      }
      state.timelines.push_back(std::move(t));
    }
    // Receivers before gaps were recorded answer without them.
    if (const auto* gaps = o.if_contains("gaps")) {
      for (const auto& gv : gaps->as_array()) {
        auto gap = gap_of(gv);
        if (!gap) return std::nullopt;
        state.gaps.push_back(std::move(*gap));
      }
    }
    // Receivers before completion marks answer without base backups and window.
    if (const auto* backups = o.if_contains("basebackups")) {
      for (const auto& bv : backups->as_array()) {
        auto mark = mark_of(bv);
        if (!mark) return std::nullopt;
        state.basebackups.push_back(std::move(*mark));
      }
    }
    if (const auto* pitr = o.if_contains("pitr"); pitr && pitr->is_object()) {
      const auto oldest = ms_of(pitr->as_object().at("oldest"));
      const auto newest = ms_of(pitr->as_object().at("newest"));
      if (!oldest || !newest) return std::nullopt;
      state.pitr = pitr_window{*oldest, *newest};
    }
    return state;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace pgship::wire::wal
