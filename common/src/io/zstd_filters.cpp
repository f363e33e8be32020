#include <vector>

#include <zstd.h>

#include <pgship/common/io/zstd_filters.hpp>

namespace pgship::io {

struct zstd_compressor::impl {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  std::vector<char> out = std::vector<char>(ZSTD_CStreamOutSize());
  std::error_code error;  // a failed parameter is reported by the first write
  ~impl() { ZSTD_freeCCtx(ctx); }
};

struct zstd_decompressor::impl {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  std::vector<char> out = std::vector<char>(ZSTD_DStreamOutSize());
  bool mid_frame = false;  // the last call left a frame unfinished
  ~impl() { ZSTD_freeDCtx(ctx); }
};

namespace {

// Each worker holds about two jobs of input and output: libzstd's default for level 3 (8 MiB)
// puts two workers at 65 MiB; 4 MiB jobs halve that for a ratio within 0.01 %.
constexpr int default_job_size = 4 * 1024 * 1024;

std::error_code zstd_failure() {
  return std::make_error_code(std::errc::illegal_byte_sequence);
}

}  // namespace

zstd_compressor::zstd_compressor(sink& next, int level, int workers, int job_size)
    : filter(next), impl_(std::make_unique<impl>()) {
  if (impl_->ctx == nullptr ||
      ZSTD_isError(ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_compressionLevel, level)) ||
      ZSTD_isError(ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_checksumFlag, 1)) ||
      (workers > 0 &&
       (ZSTD_isError(ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_nbWorkers, workers)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_jobSize,
                                            job_size > 0 ? job_size : default_job_size))))) {
    impl_->error = std::make_error_code(std::errc::invalid_argument);
  }
}

zstd_compressor::~zstd_compressor() = default;

std::error_code zstd_compressor::write(std::span<const char> data) {
  if (impl_->error) return impl_->error;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  // With workers, input is taken in and compressed in the background: loop until all of it
  // is consumed, passing on whatever output is ready.
  while (in.pos < in.size) {
    ZSTD_outBuffer out{impl_->out.data(), impl_->out.size(), 0};
    const size_t r = ZSTD_compressStream2(impl_->ctx, &out, &in, ZSTD_e_continue);
    if (ZSTD_isError(r)) return impl_->error = zstd_failure();
    if (out.pos > 0) {
      if (auto ec = next_.write({impl_->out.data(), out.pos})) return impl_->error = ec;
    }
  }
  return {};
}

std::error_code zstd_compressor::finish() {
  if (impl_->error) return impl_->error;
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer out{impl_->out.data(), impl_->out.size(), 0};
    const size_t left = ZSTD_compressStream2(impl_->ctx, &out, &in, ZSTD_e_end);
    if (ZSTD_isError(left)) return impl_->error = zstd_failure();
    if (out.pos > 0) {
      if (auto ec = next_.write({impl_->out.data(), out.pos})) return impl_->error = ec;
    }
    if (left == 0) break;
  }
  return next_.finish();
}

zstd_decompressor::zstd_decompressor(sink& next) : filter(next), impl_(std::make_unique<impl>()) {}

zstd_decompressor::~zstd_decompressor() = default;

std::error_code zstd_decompressor::write(std::span<const char> data) {
  if (impl_->ctx == nullptr) return std::make_error_code(std::errc::not_enough_memory);
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  // Also after the input is consumed while the output buffer came back full: the decoder may
  // still hold decoded bytes. Not once a frame has ended (0): a further call would begin the
  // next frame's header and read as mid-frame.
  for (;;) {
    ZSTD_outBuffer out{impl_->out.data(), impl_->out.size(), 0};
    const size_t r = ZSTD_decompressStream(impl_->ctx, &out, &in);
    if (ZSTD_isError(r)) return zstd_failure();
    impl_->mid_frame = r != 0;
    if (out.pos > 0) {
      if (auto ec = next_.write({impl_->out.data(), out.pos})) return ec;
    }
    if (in.pos < in.size) continue;
    if (r == 0 || out.pos < out.size) break;
  }
  return {};
}

std::error_code zstd_decompressor::finish() {
  // A stream that stops inside a frame is a cut-short file, never a complete one.
  if (impl_->mid_frame) return std::make_error_code(std::errc::message_size);
  return next_.finish();
}

bool starts_like_zstd(std::span<const char> head) {
  return head.size() >= 4 && static_cast<unsigned char>(head[0]) == 0x28 &&
         static_cast<unsigned char>(head[1]) == 0xb5 &&
         static_cast<unsigned char>(head[2]) == 0x2f && static_cast<unsigned char>(head[3]) == 0xfd;
}

}  // namespace pgship::io
