#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_to.hpp>

#include <pgship/common/time_text.hpp>
#include <pgship/common/wire/backup_record.hpp>

namespace pgship::wire {
namespace {

namespace field = record_field;

boost::json::object record_object(const backup_record& r) {
  boost::json::object o;
  o[field::id] = r.id;
  o[field::filename] = r.id;
  o[field::client] = r.client;
  o[field::database] = r.database;
  o[field::kind] = to_string(kind_of(r));
  o[field::size] = r.size;
  o[field::sha256] = r.sha256;
  o[field::created_at] = format_utc(r.taken);
  o[field::uploaded_at] = format_utc(r.uploaded);
  return o;
}

std::optional<backup_record> record_of(const boost::json::value& value) {
  if (!value.is_object()) return std::nullopt;
  const auto& o = value.get_object();
  backup_record r;
  try {
    r.id = boost::json::value_to<std::string>(o.at(field::id));
    r.client = boost::json::value_to<std::string>(o.at(field::client));
    r.database = boost::json::value_to<std::string>(o.at(field::database));
    r.size = boost::json::value_to<std::uint64_t>(o.at(field::size));
    r.sha256 = boost::json::value_to<std::string>(o.at(field::sha256));
    const auto taken = parse_utc(boost::json::value_to<std::string>(o.at(field::created_at)));
    const auto uploaded = parse_utc(boost::json::value_to<std::string>(o.at(field::uploaded_at)));
    if (!taken || !uploaded) return std::nullopt;
    r.taken = *taken;
    r.uploaded = *uploaded;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return r;
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
  if (ec) return std::nullopt;
  return record_of(value);
}

std::optional<std::vector<backup_record>> records_from_json(std::string_view text) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) return std::nullopt;
  std::vector<backup_record> out;
  for (const auto& item : value.get_array()) {
    auto r = record_of(item);
    if (!r) return std::nullopt;
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace pgship::wire
