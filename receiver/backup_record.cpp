#include "backup_record.hpp"
#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>

#include <pgship/common/time_text.hpp>

namespace pgship::receiver {
namespace {

boost::json::object record_object(const backup_record& r) {
  boost::json::object o;
  o["id"] = r.id;
  o["filename"] = r.id;  // the field name the FastAPI receiver used
  o["client"] = r.client;
  o["database"] = r.database;
  o["kind"] = to_string(kind_of(r));
  o["size"] = r.size;
  o["sha256"] = r.sha256;
  o["created_at"] = format_utc(r.taken);
  o["uploaded_at"] = format_utc(r.uploaded);
  return o;
}

}  // namespace

backup_kind kind_of(const backup_record& record) {
  const auto parsed = parse_backup_name(record.id);
  return parsed ? parsed->kind : backup_kind::dump;
}

std::string to_json(const backup_record& record) {
  return boost::json::serialize(record_object(record));
}

std::string to_json(const std::vector<backup_record>& records) {
  boost::json::array a;
  for (const auto& r : records)
    a.push_back(record_object(r));
  return boost::json::serialize(a);
}

std::optional<backup_record> record_from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.as_object();
  backup_record r;
  try {
    r.id = boost::json::value_to<std::string>(o.at("id"));
    r.client = boost::json::value_to<std::string>(o.at("client"));
    r.database = boost::json::value_to<std::string>(o.at("database"));
    r.size = boost::json::value_to<std::uint64_t>(o.at("size"));
    r.sha256 = boost::json::value_to<std::string>(o.at("sha256"));
    const auto taken = parse_utc(boost::json::value_to<std::string>(o.at("created_at")));
    const auto uploaded = parse_utc(boost::json::value_to<std::string>(o.at("uploaded_at")));
    if (!taken || !uploaded) return std::nullopt;
    r.taken = *taken;
    r.uploaded = *uploaded;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return r;
}

void sort_newest_first(std::vector<backup_record>& records) {
  std::sort(records.begin(), records.end(), [](const backup_record& a, const backup_record& b) {
    return a.taken != b.taken ? a.taken > b.taken : a.id > b.id;
  });
}

}  // namespace pgship::receiver
