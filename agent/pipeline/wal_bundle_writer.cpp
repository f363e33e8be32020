#include "pipeline/wal_bundle_writer.hpp"
#include <cerrno>
#include <cstring>

#include <unistd.h>

#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/file_io.hpp>
#include <pgship/common/io/filters.hpp>
#include <pgship/common/wal/wal_names.hpp>

namespace pgship::agent {

namespace {

std::optional<io::stored_format> format_of_unit(const std::string& name) {
  if (const auto unit = wal::parse_unit_name(name)) return unit->format;
  if (const auto history = wal::parse_history_file(name)) return history->format;
  return std::nullopt;
}

}  // namespace

// The filters of the unit being written: they hold references to one another, so they stay put.
struct wal_bundle_writer::unit_in_progress {
  explicit unit_in_progress(int fd) : file(fd, false), chain(file) {}
  io::file_writer file;
  io::filter_group chain;
  const io::hash_filter* plain = nullptr;
  const io::hash_filter* stored = nullptr;
};

wal_bundle_writer::wal_bundle_writer(int fd, io::age_secrets secrets, std::string what,
                                     bool complete_only)
    : fd_(fd),
      secrets_(std::move(secrets)),
      what_(std::move(what)),
      complete_only_(complete_only) {}

wal_bundle_writer::~wal_bundle_writer() {
  if (unit_) unit_->chain.abort();
}

std::error_code wal_bundle_writer::stop(stage_error why) {
  if (unit_) unit_->chain.abort();
  unit_.reset();
  error_ = std::move(why);
  return std::make_error_code(std::errc::operation_canceled);
}

std::error_code wal_bundle_writer::read_head(std::span<const char>& data) {
  // The head ends at its empty line: "\n\n" (the first line is never empty).
  const auto before = head_text_.size();
  head_text_.append(data.data(), data.size());
  const auto end = head_text_.find("\n\n", before == 0 ? 0 : before - 1);
  if (end == std::string::npos) {
    data = {};
    if (head_text_.size() > wire::wal::bundle_head_limit) {
      return stop(fail(errc::receiver_unhealthy, what_ + ": the bundle's head never ends"));
    }
    return {};
  }
  const auto used = end + 2 - before;  // of this piece
  data = data.subspan(used);
  head_ = wire::wal::decode_bundle_head(std::string_view(head_text_).substr(0, end + 1));
  head_text_.clear();
  if (!head_) return stop(fail(errc::receiver_unhealthy, what_ + ": not a pgship WAL bundle"));
  if (complete_only_ && head_->state == wire::wal::list_state::partial) {
    stopped_as_partial_ = true;
    return std::make_error_code(std::errc::operation_canceled);
  }
  return {};
}

std::error_code wal_bundle_writer::begin_unit() {
  const auto& entry = head_->units[next_unit_];
  const std::string what = "WAL unit " + entry.unit;
  const auto format = format_of_unit(entry.unit);
  if (!format) return stop(fail(errc::receiver_unhealthy, what + ": not a unit name"));
  if (::ftruncate(fd_, entry.start) != 0 || ::lseek(fd_, entry.start, SEEK_SET) < 0) {
    return stop(fail(errc::local_io_failed, "writing " + what + ": " + std::strerror(errno)));
  }
  unit_ = std::make_unique<unit_in_progress>(fd_);
  unit_->plain = &unit_->chain.push_front<io::hash_filter>();
  io::codec_settings codec;
  codec.secrets = secrets_;
  io::push_read_stages(unit_->chain, *format, codec);
  unit_->stored = &unit_->chain.push_front<io::hash_filter>();
  unit_left_ = entry.stored_size;
  return {};
}

std::error_code wal_bundle_writer::end_unit() {
  const auto& entry = head_->units[next_unit_];
  const std::string what = "WAL unit " + entry.unit;
  auto& chain = unit_->chain;
  if (const auto ec = chain.finish()) {
    if (io::is_codec_error(ec)) {
      return stop(fail(errc::hash_mismatch, what +
                                                " does not decrypt or decompress (its bytes are "
                                                "not the ones the agent shipped): " +
                                                chain.describe(ec)));
    }
    return stop(fail(errc::local_io_failed, "writing " + what + ": " + chain.describe(ec)));
  }
  if (unit_->stored->digest() != entry.stored_sha256) {
    return stop(fail(errc::hash_mismatch, what + ": the stored bytes received have SHA-256 " +
                                              to_hex(unit_->stored->digest()) +
                                              ", the receiver's record says " +
                                              to_hex(entry.stored_sha256)));
  }
  if (unit_->plain->digest() != entry.plaintext_sha256) {
    return stop(fail(errc::hash_mismatch,
                     what + ": its WAL has SHA-256 " + to_hex(unit_->plain->digest()) +
                         ", the receiver's record says " + to_hex(entry.plaintext_sha256)));
  }
  unit_.reset();
  ++next_unit_;
  return {};
}

std::error_code wal_bundle_writer::write(std::span<const char> data) {
  if (error_ || stopped_as_partial_) return std::make_error_code(std::errc::operation_canceled);
  if (!head_) {
    if (auto ec = read_head(data)) return ec;
  }
  while (head_ && !data.empty()) {
    if (!unit_) {
      if (next_unit_ >= head_->units.size()) {
        return stop(fail(errc::receiver_unhealthy, what_ + ": more bytes than its units hold"));
      }
      if (auto ec = begin_unit()) return ec;
    }
    const auto piece = data.first(std::min<std::uint64_t>(data.size(), unit_left_));
    if (!piece.empty()) {
      if (const auto ec = unit_->chain.write(piece)) {
        if (io::is_codec_error(ec)) {
          return stop(fail(errc::hash_mismatch,
                           "WAL unit " + head_->units[next_unit_].unit +
                               " does not decrypt or decompress: " + unit_->chain.describe(ec)));
        }
        return stop(
            fail(errc::local_io_failed, "writing " + what_ + ": " + unit_->chain.describe(ec)));
      }
    }
    data = data.subspan(piece.size());
    unit_left_ -= piece.size();
    if (unit_left_ == 0) {
      if (auto ec = end_unit()) return ec;
    }
  }
  return {};
}

stage_error wal_bundle_writer::finish() {
  if (error_) return error_;
  if (!head_) return fail(errc::receiver_unhealthy, what_ + ": not a pgship WAL bundle");
  // A unit of no stored bytes cannot be (a stored file has at least its codec's header).
  if (unit_ || next_unit_ != head_->units.size()) {
    return fail(errc::receiver_unhealthy, what_ + ": the bundle ended inside its units");
  }
  return {};
}

}  // namespace pgship::agent
