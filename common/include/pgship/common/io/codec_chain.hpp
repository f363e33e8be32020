#pragma once
// The chain factory: the one place that turns a stored format into the stages that write it
// (plain bytes → compression → encryption; ciphertext does not compress) and the stages that
// read it back (decryption → decompression → plain bytes). Callers add what is theirs (hashes
// of the plain and the stored bytes, a tee, the file or the pipe) around these stages.

#include <vector>

#include <pgship/common/age/age_keys.hpp>
#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/filter_group.hpp>
#include <pgship/common/io/stored_format.hpp>

namespace pgship::io {

/// What the codecs need, beside the format: levels and keys.
struct codec_settings {
  int zstd_level = 3;  // 1-19
  int zstd_threads = 0;
  int zstd_job_size = 0;  // bytes per zstd worker job; 0: zstd_compressor's default
  std::vector<age::recipient> recipients;  // to write an encrypted format (not empty then)
  age_secrets secrets;                     // to read one
};

/// Pushes in front of `chain` the stages that turn plain bytes into `format`'s stored bytes.
void push_write_stages(filter_group& chain, const stored_format& format,
                       const codec_settings& settings);

/// Pushes in front of `chain` the stages that turn `format`'s stored bytes back into plain
/// bytes. A failure is the codec's (a corrupt zstd frame, an age chunk that does not
/// authenticate): chain.describe() says which.
void push_read_stages(filter_group& chain, const stored_format& format,
                      const codec_settings& settings);

/// Whether `ec` is a read stage's verdict on the bytes (they do not decompress, decrypt or
/// authenticate), as opposed to a failure of the disk or the pipe.
bool is_codec_error(const std::error_code& ec);

}  // namespace pgship::io
