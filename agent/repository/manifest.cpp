#include "repository/manifest.hpp"
#include <fstream>
#include <sstream>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/checksum_line.hpp>
#include <pgship/common/fs.hpp>
#include <pgship/common/json_text.hpp>

namespace pgship::agent {
namespace json = boost::json;

std::string_view to_string(upload_state s) {
  switch (s) {
    case upload_state::pending:
      return "pending";
    case upload_state::uploaded:
      return "uploaded";
    case upload_state::failed:
      return "failed";
    case upload_state::skipped:
      return "skipped";
  }
  return "pending";
}

bool unshipped(upload_state s) {
  return s == upload_state::pending || s == upload_state::failed;
}

namespace {

upload_state parse_state(std::string_view s) {
  if (s == "uploaded") return upload_state::uploaded;
  if (s == "failed") return upload_state::failed;
  if (s == "skipped") return upload_state::skipped;
  return upload_state::pending;
}

std::uint64_t number_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  return 0;
}

std::int64_t signed_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return 0;
}

bool flag_of(const json::object& o, std::string_view key, bool otherwise) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_bool() ? v->get_bool() : otherwise;
}

const json::array* array_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

json::object table_json(const table_rows& t) {
  json::object o{{"schema", t.schema}, {"name", t.name}, {"kind", t.kind}};
  if (t.error.empty()) {
    o["rows"] = t.rows;
  } else {
    o["rows"] = nullptr;
    o["error"] = t.error;
  }
  return o;
}

table_rows table_of(const json::object& o) {
  table_rows t{text_of(o, "schema"), text_of(o, "name"), number_of(o, "rows"), text_of(o, "kind"),
               text_of(o, "error")};
  if (t.kind.empty()) t.kind = "table";  // manifests from before kinds
  return t;
}

json::object timescaledb_json(const timescaledb_facts& ts) {
  json::array hypertables;
  for (const auto& h : ts.hypertables) {
    hypertables.push_back(json::object{{"schema", h.schema},
                                       {"name", h.name},
                                       {"chunks", h.chunks},
                                       {"compressed_chunks", h.compressed_chunks}});
  }
  json::array jobs;
  for (const auto& j : ts.jobs) {
    json::object o{{"id", j.id}, {"proc", j.proc}};
    o["hypertable"] = j.hypertable.empty() ? json::value(nullptr) : json::value(j.hypertable);
    o["schedule_interval"] = j.schedule_interval;
    o["scheduled"] = j.scheduled;
    jobs.push_back(std::move(o));
  }
  return json::object{
      {"version", ts.version}, {"hypertables", std::move(hypertables)}, {"jobs", std::move(jobs)}};
}

timescaledb_facts timescaledb_of(const json::object& o) {
  timescaledb_facts ts;
  ts.version = text_of(o, "version");
  if (const auto* list = array_of(o, "hypertables")) {
    for (const auto& item : *list) {
      if (!item.is_object()) continue;
      const auto& h = item.get_object();
      ts.hypertables.push_back({text_of(h, "schema"), text_of(h, "name"), number_of(h, "chunks"),
                                number_of(h, "compressed_chunks")});
    }
  }
  if (const auto* list = array_of(o, "jobs")) {
    for (const auto& item : *list) {
      if (!item.is_object()) continue;
      const auto& j = item.get_object();
      ts.jobs.push_back({signed_of(j, "id"), text_of(j, "proc"), text_of(j, "hypertable"),
                         text_of(j, "schedule_interval"), flag_of(j, "scheduled", true)});
    }
  }
  return ts;
}

}  // namespace

std::optional<std::string> extension_of(const manifest& m, std::string_view name) {
  for (const auto& e : m.extensions)
    if (e.name == name) return e.version;
  return std::nullopt;
}

std::string to_json(const manifest& m) {
  json::object up;
  up["status"] = to_string(m.upload.state);
  if (!m.upload.receiver.empty()) up["receiver"] = m.upload.receiver;
  if (!m.upload.finished.empty()) up["finished"] = m.upload.finished;
  up["bytes_sent"] = m.upload.bytes_sent;
  up["retries"] = m.upload.retries;
  up["resumes"] = m.upload.resumes;
  if (!m.upload.error.empty()) up["error"] = m.upload.error;
  if (!m.upload.resume_at.empty()) up["resume_at"] = m.upload.resume_at;

  json::object o;
  o["name"] = m.name;
  o["database"] = m.database;
  o["size"] = m.size;
  o["sha256"] = m.sha256;
  o["pg_dump_version"] = m.pg_dump_version;
  o["server_version"] = m.server_version;
  o["database_size"] = m.database_size;
  o["compress_level"] = m.compress_level;
  o["compression"] = m.compression.empty() ? "pg_dump" : m.compression;
  if (!m.plaintext_sha256.empty()) {
    o["plaintext_sha256"] = m.plaintext_sha256;
    o["plaintext_size"] = m.plaintext_size;
  }
  if (!m.encryption_recipients.empty()) {
    json::array to;
    for (const auto& r : m.encryption_recipients)
      to.emplace_back(r);
    o["encryption"] = json::object{{"format", "age-encryption.org/v1"}, {"recipients", to}};
  }
  o["started"] = m.started;
  o["finished"] = m.finished;
  o["agent_host"] = m.agent_host;
  o["run_id"] = m.run_id;
  if (m.adopted) o["adopted"] = true;
  if (!m.row_counts.empty()) {
    o["row_counts"] = m.row_counts;
    json::array tables;
    for (const auto& t : m.tables)
      tables.push_back(table_json(t));
    o["tables"] = std::move(tables);
  }
  if (!m.extensions.empty()) {
    json::array extensions;
    for (const auto& e : m.extensions)
      extensions.push_back(json::object{{"name", e.name}, {"version", e.version}});
    o["extensions"] = std::move(extensions);
  }
  if (m.timescaledb) o["timescaledb"] = timescaledb_json(*m.timescaledb);
  if (!m.kind.empty()) o["kind"] = m.kind;
  if (m.physical) {
    const auto& p = *m.physical;
    o["physical"] = json::object{{"system_identifier", p.system_identifier},
                                 {"timeline", p.timeline},
                                 {"start_lsn", p.start_lsn},
                                 {"stop_lsn", p.stop_lsn},
                                 {"start_time", p.start_time},
                                 {"segment_size", p.segment_size},
                                 {"backup_manifest_sha256", p.backup_manifest_sha256}};
  }
  if (m.kind == "globals") {
    o["pg_dumpall_version"] = m.pg_dump_version;
    json::array roles;
    for (const auto& r : m.roles)
      roles.emplace_back(r);
    o["roles"] = std::move(roles);
    o["role_passwords"] = m.role_passwords;
  }
  o["upload"] = std::move(up);
  return json_text(o) + "\n";
}

std::optional<manifest> parse_manifest(std::string_view text) {
  boost::system::error_code ec;
  const auto value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& o = value.get_object();
  manifest m;
  m.name = text_of(o, "name");
  m.database = text_of(o, "database");
  m.size = number_of(o, "size");
  m.sha256 = text_of(o, "sha256");
  m.pg_dump_version = text_of(o, "pg_dump_version");
  m.server_version = text_of(o, "server_version");
  m.database_size = number_of(o, "database_size");
  m.compress_level = static_cast<int>(number_of(o, "compress_level"));
  m.compression = text_of(o, "compression");
  if (m.compression.empty()) m.compression = "pg_dump";  // manifests from before the key
  m.plaintext_sha256 = text_of(o, "plaintext_sha256");
  m.plaintext_size = number_of(o, "plaintext_size");
  if (const auto* e = o.if_contains("encryption"); e != nullptr && e->is_object()) {
    if (const auto* to = e->get_object().if_contains("recipients"); to && to->is_array()) {
      for (const auto& r : to->get_array())
        if (r.is_string()) m.encryption_recipients.emplace_back(r.get_string());
    }
  }
  m.started = text_of(o, "started");
  m.finished = text_of(o, "finished");
  m.agent_host = text_of(o, "agent_host");
  m.run_id = text_of(o, "run_id");
  if (const auto* a = o.if_contains("adopted"); a != nullptr && a->is_bool()) {
    m.adopted = a->get_bool();
  }
  m.row_counts = text_of(o, "row_counts");
  if (const auto* list = array_of(o, "tables")) {
    for (const auto& item : *list)
      if (item.is_object()) m.tables.push_back(table_of(item.get_object()));
  }
  if (const auto* list = array_of(o, "extensions")) {
    for (const auto& item : *list) {
      if (!item.is_object()) continue;
      m.extensions.push_back(
          {text_of(item.get_object(), "name"), text_of(item.get_object(), "version")});
    }
  }
  if (const auto* ts = o.if_contains("timescaledb"); ts != nullptr && ts->is_object()) {
    m.timescaledb = timescaledb_of(ts->get_object());
  }
  m.kind = text_of(o, "kind");
  if (const auto* ph = o.if_contains("physical"); ph != nullptr && ph->is_object()) {
    const auto& p = ph->get_object();
    m.physical = physical_facts{text_of(p, "system_identifier"),
                                static_cast<std::uint32_t>(number_of(p, "timeline")),
                                text_of(p, "start_lsn"),
                                text_of(p, "stop_lsn"),
                                text_of(p, "start_time"),
                                number_of(p, "segment_size"),
                                text_of(p, "backup_manifest_sha256")};
  }
  if (m.pg_dump_version.empty()) m.pg_dump_version = text_of(o, "pg_dumpall_version");
  if (const auto* list = array_of(o, "roles")) {
    for (const auto& r : *list)
      if (r.is_string()) m.roles.emplace_back(r.get_string());
  }
  m.role_passwords = flag_of(o, "role_passwords", false);
  if (const auto* up = o.if_contains("upload"); up != nullptr && up->is_object()) {
    const auto& u = up->get_object();
    m.upload.state = parse_state(text_of(u, "status"));
    m.upload.receiver = text_of(u, "receiver");
    m.upload.finished = text_of(u, "finished");
    m.upload.bytes_sent = number_of(u, "bytes_sent");
    m.upload.retries = static_cast<int>(number_of(u, "retries"));
    m.upload.resumes = static_cast<int>(number_of(u, "resumes"));
    m.upload.error = text_of(u, "error");
    m.upload.resume_at = text_of(u, "resume_at");
  }
  if (m.name.empty() || m.sha256.empty()) return std::nullopt;
  return m;
}

std::filesystem::path manifest_path(const std::filesystem::path& dir, std::string_view name) {
  return dir / (std::string(backup_stem(name)) + ".json");
}

std::optional<manifest> read_manifest(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_manifest(text.str());
}

std::error_code write_manifest(const std::filesystem::path& dir, const manifest& m) {
  return fs::write_file_atomically(manifest_path(dir, m.name), to_json(m));
}

std::error_code write_checksum_file(const std::filesystem::path& dir, std::string_view name,
                                    std::string_view sha256_hex) {
  const auto digest = digest_from_hex(sha256_hex);
  if (!digest) return std::make_error_code(std::errc::invalid_argument);
  return fs::write_file_atomically(dir / (std::string(name) + ".sha256"),
                                   format_checksum_line(*digest, name));
}

}  // namespace pgship::agent
