#include "repository/commit.hpp"

#include <pgship/common/fs.hpp>

namespace pgship::agent {

namespace stdfs = std::filesystem;

stage_error commit_local_backup(const stdfs::path& dir, const stdfs::path& partial,
                                const manifest& m, const log::context& lg) {
  std::error_code ec = write_checksum_file(dir, m.name, m.sha256);
  if (!ec) ec = write_manifest(dir, m);
  bool renamed = false;
  if (!ec) {
    stdfs::rename(partial, dir / m.name, ec);
    renamed = !ec;
  }
  if (!ec) ec = fs::fsync_directory(dir);
  if (ec) {
    // Never reported as stored, so nothing of it may stay (a dump without its manifest would
    // count as never uploaded and never be rotated).
    std::error_code ignored;
    stdfs::remove(partial, ignored);
    if (renamed) stdfs::remove(dir / m.name, ignored);
    stdfs::remove(dir / (m.name + ".sha256"), ignored);
    stdfs::remove(manifest_path(dir, m.name), ignored);
    return fail(ec == std::errc::no_space_on_device ? errc::disk_full : errc::local_io_failed,
                "cannot store " + m.name + " in " + dir.string() + ": " + ec.message());
  }
  lg.info("stored {}", (dir / m.name).string());
  return {};
}

}  // namespace pgship::agent
