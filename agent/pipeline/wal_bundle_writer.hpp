#pragma once
// A WAL bundle's body (wire/wal.hpp: the head, then the units' stored bytes) written into one
// file as it arrives: each unit decrypted and decompressed as its name says and written at its
// offset (cutting back to it first: units may overlap after a restart, with the same bytes),
// both its stored and its plain bytes hashed and held to the head's record of them.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/wire/wal.hpp>

#include "stage_error.hpp"

namespace pgship::agent {

class wal_bundle_writer {
 public:
  /// Writes into `fd` (the caller's). `complete_only`: a bundle whose head says partial is
  /// refused before any byte is written (stopped_as_partial()).
  wal_bundle_writer(int fd, io::age_secrets secrets, std::string what, bool complete_only);
  ~wal_bundle_writer();
  wal_bundle_writer(const wal_bundle_writer&) = delete;
  wal_bundle_writer& operator=(const wal_bundle_writer&) = delete;

  /// The next bytes of the body; an error stops the transfer (error() says why).
  std::error_code write(std::span<const char> data);
  /// Once the body ended: every unit whole and matching its record, or why not.
  stage_error finish();

  /// What stopped write() (empty while nothing did).
  const stage_error& error() const { return error_; }
  const std::optional<wire::wal::bundle_head>& head() const { return head_; }
  bool stopped_as_partial() const { return stopped_as_partial_; }

 private:
  struct unit_in_progress;
  std::error_code stop(stage_error why);
  std::error_code read_head(std::span<const char>& data);
  std::error_code begin_unit();
  std::error_code end_unit();

  int fd_;
  io::age_secrets secrets_;
  std::string what_;
  bool complete_only_;
  std::string head_text_;
  std::optional<wire::wal::bundle_head> head_;
  std::size_t next_unit_ = 0;
  std::uint64_t unit_left_ = 0;
  std::unique_ptr<unit_in_progress> unit_;
  stage_error error_;
  bool stopped_as_partial_ = false;
};

}  // namespace pgship::agent
