#pragma once
// A base backup's tar written into a data directory as it is read, each file's SHA-256 taken
// while it is written, and at the end every file checked against the backup's own manifest
// (the `backup_manifest` member PostgreSQL wrote last, with SHA-256 checksums: what
// pg_verifybackup checks, without reading the files a second time). Names that would leave
// the directory, and member types a base backup does not have, are refused. Synchronous: the
// unpacker runs it on a thread of its own beside the download.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include <pgship/common/sha256.hpp>

#include "pipeline/tar_reader.hpp"
#include "stage_error.hpp"

namespace pgship::agent {

class basebackup_writer final : private tar_handler {
 public:
  /// `dir` exists and is empty.
  explicit basebackup_writer(std::filesystem::path dir);
  ~basebackup_writer() override;
  basebackup_writer(const basebackup_writer&) = delete;
  basebackup_writer& operator=(const basebackup_writer&) = delete;

  /// The tar's bytes, in order. After an error, problem() says why.
  std::error_code write(std::span<const char> bytes);
  const std::string& problem() const { return problem_; }

  /// After the last byte: the archive ended, and every file the manifest lists is there with
  /// its size and SHA-256, no other is (but those pg_verifybackup ignores too), and the
  /// manifest's own checksum is right. hash_mismatch naming the first few differences;
  /// restore_failed for a tar or manifest that cannot be read. `external` is set instead when
  /// the manifest's checksums are not SHA-256 (pg_verifybackup must check them).
  stage_error finish(bool& external);

  std::uint64_t files() const { return written_.size(); }

 private:
  std::error_code begin(const tar_member& member) override;
  std::error_code data(std::span<const char> bytes) override;
  std::error_code end() override;
  std::error_code refuse(std::string why);
  void close_file();

  struct written {
    std::uint64_t size = 0;
    sha256_digest digest{};
  };

  std::filesystem::path dir_;
  tar_reader reader_;
  int fd_ = -1;
  std::string name_;  // of the regular file being written
  std::uint64_t size_ = 0;
  std::uint64_t started_writeback_ = 0;  // bytes of the file whose writeback was started
  static constexpr std::uint64_t writeback_step = 8 << 20;
  static constexpr std::size_t write_piece = 128 << 10;
  sha256 hash_;
  bool manifest_member_ = false;
  std::string manifest_;
  std::unordered_map<std::string, written> written_;
  std::unordered_set<std::string> links_;  // the links it made (pg_tblspc/<oid>)
  std::string problem_;
};

}  // namespace pgship::agent
