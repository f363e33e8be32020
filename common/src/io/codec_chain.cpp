#include <pgship/common/age/age_errors.hpp>
#include <pgship/common/io/codec_chain.hpp>
#include <pgship/common/io/zstd_filters.hpp>

namespace pgship::io {

// The chain is built from its end: what comes last in the stream is pushed first.

void push_write_stages(filter_group& chain, const stored_format& format,
                       const codec_settings& settings) {
  switch (format.encrypt) {
    case encryption::none:
      break;
    case encryption::age:
      chain.push_front<age_encryptor>(std::span<const age::recipient>(settings.recipients));
      break;
  }
  switch (format.compress) {
    case compression::none:
      break;
    case compression::zstd:
      chain.push_front<zstd_compressor>(settings.zstd_level, settings.zstd_threads,
                                        settings.zstd_job_size);
      break;
  }
}

void push_read_stages(filter_group& chain, const stored_format& format,
                      const codec_settings& settings) {
  switch (format.compress) {
    case compression::none:
      break;
    case compression::zstd:
      chain.push_front<zstd_decompressor>();
      break;
  }
  switch (format.encrypt) {
    case encryption::none:
      break;
    case encryption::age:
      chain.push_front<age_decryptor>(settings.secrets);
      break;
  }
}

bool is_codec_error(const std::error_code& ec) {
  // zstd_decompressor: a corrupt frame, a stream cut inside one.
  return age::is_age_error(ec) || ec == std::errc::illegal_byte_sequence ||
         ec == std::errc::message_size;
}

}  // namespace pgship::io
