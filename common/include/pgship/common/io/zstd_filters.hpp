#pragma once
// zstd as chain stages (libzstd's streaming API). The compressor can spread the work over
// worker threads (ZSTD_c_nbWorkers); both keep one output block, so memory stays flat.

#include <cstdint>
#include <memory>

#include <pgship/common/io/sink.hpp>

namespace pgship::io {

/// std::errc values the decompressor reports: a corrupt frame is illegal_byte_sequence, a
/// stream that ends inside a frame (a truncated file) is message_size.
class zstd_compressor final : public filter {
 public:
  /// `level` 1-19; `workers` 0 compresses on the calling thread; `job_size`: bytes of input
  /// per worker job (0: 4 MiB). Each worker holds about two jobs of input and output.
  zstd_compressor(sink& next, int level, int workers, int job_size = 0);
  ~zstd_compressor() override;
  std::error_code write(std::span<const char> data) override;
  std::error_code finish() override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class zstd_decompressor final : public filter {
 public:
  explicit zstd_decompressor(sink& next);
  ~zstd_decompressor() override;
  std::error_code write(std::span<const char> data) override;
  std::error_code finish() override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A zstd frame starts with these four bytes (RFC 8878).
bool starts_like_zstd(std::span<const char> head);

}  // namespace pgship::io
