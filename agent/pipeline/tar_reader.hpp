#pragma once
// A ustar stream read as it passes: each member's header (its name, with GNU long names and
// the ustar prefix joined, its type, mode, size and link target), its bytes and its end, to a
// handler; the two zero blocks that end the archive. What pg_basebackup and BASE_BACKUP write,
// read by the base backup's tap (the positions) and by the unpacker (the files).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace pgship::agent {

struct tar_member {
  std::string name;
  char type = '0';  // '0' file, '5' directory, '2' symlink, ...
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
  std::string link;  // a symlink's target
};

class tar_handler {
 public:
  virtual ~tar_handler() = default;
  virtual std::error_code begin(const tar_member& member) = 0;
  virtual std::error_code data(std::span<const char> bytes) = 0;
  virtual std::error_code end() = 0;
};

class tar_reader {
 public:
  explicit tar_reader(tar_handler& handler) : handler_(handler) {}

  /// Bytes of the archive, in order. An error is the handler's, or bad_message (problem()
  /// says why); nothing more is read after one.
  std::error_code write(std::span<const char> bytes);
  /// Whether the end-of-archive blocks were read.
  bool complete() const { return complete_; }
  const std::string& problem() const { return problem_; }

  static constexpr std::size_t block = 512;

 private:
  std::error_code header_done();
  std::error_code bad(std::string why);

  tar_handler& handler_;
  char header_[block] = {};
  std::size_t header_fill_ = 0;
  std::uint64_t data_left_ = 0;  // of the member's bytes
  std::uint64_t pad_left_ = 0;   // zeros up to the next header
  bool long_name_next_ = false;  // the member is a GNU 'L' entry: the next one's name
  bool in_member_ = false;
  std::string long_name_;
  std::string captured_;  // a GNU long name being read
  int zero_blocks_ = 0;
  bool complete_ = false;
  std::string problem_;
};

/// A NUL-terminated header field.
std::string_view tar_field(const char* p, std::size_t n);
/// A header number: octal digits (space or NUL padded), or GNU's base-256 (high bit set).
std::optional<std::uint64_t> tar_number(const char* p, std::size_t n);

}  // namespace pgship::agent
