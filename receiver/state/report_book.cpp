#include "state/report_book.hpp"
#include <fstream>
#include <sstream>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <pgship/common/fs.hpp>
#include <pgship/common/json_text.hpp>
#include <pgship/common/log.hpp>

namespace pgship::receiver {

namespace json = boost::json;
namespace stdfs = std::filesystem;

namespace {

template <class T>
void keep_newest(std::deque<T>& list, T item) {
  list.push_back(std::move(item));
  while (list.size() > report_book::kept)
    list.pop_front();
}

// One client's file back into its reports; what does not read is skipped.
client_reports read_client(const json::object& o) {
  client_reports c;
  std::string why;
  if (const auto* s = o.if_contains("schedule"); s != nullptr && s->is_object()) {
    if (auto r = wire::decode_report(json_text(*s), why); r && r->schedule)
      c.schedule = std::move(*r->schedule);
  }
  if (const auto* d = o.if_contains("drills"); d != nullptr && d->is_object()) {
    for (const auto& [db, list] : d->as_object()) {
      if (!list.is_array()) continue;
      for (const auto& item : list.as_array()) {
        if (auto r = wire::decode_report(json_text(item), why); r && r->drill)
          keep_newest(c.drills[std::string(db)], std::move(*r->drill));
      }
    }
  }
  if (const auto* f = o.if_contains("findings"); f != nullptr && f->is_object()) {
    for (const auto& [db, list] : f->as_object()) {
      if (!list.is_array()) continue;
      for (const auto& item : list.as_array()) {
        if (!item.is_object()) continue;
        const auto& io = item.as_object();
        keep_newest(
            c.findings[std::string(db)],
            scrub_finding{text_of(io, "backup"), text_of(io, "problem"), text_of(io, "found")});
      }
    }
  }
  return c;
}

}  // namespace

report_book::report_book(stdfs::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  if (!stdfs::is_directory(dir_, ec)) return;
  for (const auto& entry : stdfs::directory_iterator(dir_, ec)) {
    const auto name = entry.path().filename().string();
    if (!name.ends_with(".json")) continue;
    const auto client = name.substr(0, name.size() - 5);
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    boost::system::error_code jec;
    const auto value = json::parse(text.str(), jec);
    if (jec || !value.is_object() || !fs::is_safe_name(client)) {
      log::write(spdlog::level::warn,
                 "reports: " + entry.path().string() + " does not read; left aside", {});
      continue;
    }
    clients_[client] = read_client(value.as_object());
  }
}

std::error_code report_book::add(const std::string& client, const wire::report& r) {
  std::lock_guard lock(mutex_);
  auto& c = clients_[client];
  if (r.drill && !c.drills.contains(r.drill->database) && c.drills.size() >= databases_max) {
    return std::make_error_code(std::errc::too_many_files_open);
  }
  if (r.schedule) c.schedule = *r.schedule;
  if (r.drill) keep_newest(c.drills[r.drill->database], *r.drill);
  return save(client);
}

std::error_code report_book::note_finding(const std::string& client, const std::string& database,
                                          scrub_finding finding) {
  std::lock_guard lock(mutex_);
  keep_newest(clients_[client].findings[database], std::move(finding));
  return save(client);
}

client_reports report_book::of(const std::string& client) const {
  std::lock_guard lock(mutex_);
  const auto it = clients_.find(client);
  return it == clients_.end() ? client_reports{} : it->second;
}

std::error_code report_book::save(const std::string& client) const {
  const auto& c = clients_.at(client);
  json::object o;
  if (c.schedule) o["schedule"] = wire::to_json(*c.schedule);
  json::object drills;
  for (const auto& [db, list] : c.drills) {
    json::array a;
    for (const auto& d : list)
      a.push_back(wire::to_json(d));
    drills[db] = std::move(a);
  }
  o["drills"] = std::move(drills);
  json::object findings;
  for (const auto& [db, list] : c.findings) {
    json::array a;
    for (const auto& f : list)
      a.push_back(json::object{{"backup", f.backup}, {"problem", f.problem}, {"found", f.found}});
    findings[db] = std::move(a);
  }
  o["findings"] = std::move(findings);
  std::error_code ec;
  stdfs::create_directories(dir_, ec);
  if (ec) return ec;
  return fs::write_file_atomically(dir_ / (client + ".json"), json_text(o), 0600);
}

}  // namespace pgship::receiver
