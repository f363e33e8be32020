#include "pipeline/adopt.hpp"
#include <fstream>
#include <sstream>

#include <pgship/common/backup_name.hpp>
#include <pgship/common/checksum_line.hpp>

#include "pipeline/verify.hpp"
#include "repository/local_listing.hpp"
#include "repository/manifest_builder.hpp"

namespace pgship::agent {
namespace {

namespace stdfs = std::filesystem;

std::optional<std::string> read_small_file(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The digest the old tool recorded for `name`, as `sha256sum -c` reads the side file: one
// line whose file name is the dump (the old tool may have written its full path).
std::optional<sha256_digest> recorded_digest(const stdfs::path& dir, const std::string& name,
                                             std::string& why) {
  const auto text = read_small_file(dir / (name + ".sha256"));
  if (!text) {
    why = "cannot read " + name + ".sha256";
    return std::nullopt;
  }
  const auto entries = parse_checksum_text(*text);
  if (!entries || entries->size() != 1) {
    why = name + ".sha256 is not one sha256sum line";
    return std::nullopt;
  }
  if (stdfs::path(entries->front().file_name).filename() != name) {
    why = name + ".sha256 names " + entries->front().file_name + ", not " + name;
    return std::nullopt;
  }
  return entries->front().digest;
}

}  // namespace

boost::asio::awaitable<void> adopt_old_backups(const adopt_request& req, adopt_output& out) {
  const auto backups = list_local_backups(req.dir, req.database);
  for (const auto& b : backups) {
    // The old tool only wrote pg_dump's own .dump files.
    if (b.has_manifest || !b.name.ends_with(".dump")) continue;
    if (req.stopping && req.stopping()) co_return;
    std::error_code ec;
    if (!stdfs::exists(req.dir / (b.name + ".sha256"), ec)) continue;  // not the old tool's
    std::string why;
    const auto digest = recorded_digest(req.dir, b.name, why);
    stage_error error;
    verify_output verified;
    if (!digest) {
      error = fail(errc::verify_failed, why);
    } else {
      // Named first: GCC 12 destroys temporaries inside a co_await full-expression twice.
      const auto file = req.dir / b.name;
      verify_expect expect;
      expect.stored = *digest;
      error = co_await run_verify(file, expect, req.pg_restore, verified);
    }
    if (error) {
      req.log.warn("cannot adopt the old backup {}: {}; left as it is", b.name, error.message);
      out.refused.push_back(b.name);
      continue;
    }
    manifest_start start;
    start.name = b.name;
    start.database = req.database;
    start.run_id = req.run_id;
    start.started = b.taken;
    start.compress_level = -1;  // unknown: the old tool's choice
    start.adopted = true;
    if (req.upload) start.receiver = req.receiver;
    auto m = new_manifest(start);
    stored_bytes stored;
    stored.size = verified.bytes_read;
    stored.sha256 = to_hex(*digest);
    record_stored(m, stored, b.taken);
    if (const auto wec = write_manifest(req.dir, m)) {
      req.log.warn("cannot adopt the old backup {}: writing its manifest: {}", b.name,
                   wec.message());
      out.refused.push_back(b.name);
      continue;
    }
    req.log.info("adopted the old backup {} ({} bytes, sha256 and pg_restore --list check out)",
                 b.name, m.size);
    out.adopted.push_back(b.name);
  }
}

}  // namespace pgship::agent
