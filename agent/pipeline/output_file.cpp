#include "pipeline/output_file.hpp"

#include <pgship/common/io/file_io.hpp>

namespace pgship::agent {

stage_error io_failure(const std::string& what, const std::error_code& ec) {
  return fail(ec == std::errc::no_space_on_device ? errc::disk_full : errc::local_io_failed,
              what + ": " + ec.message());
}

stage_error producer_failure(const child_result& result, const std::string& what,
                             const std::filesystem::path& output) {
  if (result.stopped) return fail(errc::cancelled, what + " stopped: the run was cancelled");
  if (result.sink_error) return io_failure("writing " + output.string(), result.sink_error);
  if (!result.ok()) {
    const auto why = result.last_error_line();
    return fail(errc::dump_failed,
                what + " failed (" + result.describe() + ")" + (why.empty() ? "" : ": " + why));
  }
  return {};
}

namespace {

std::unique_ptr<io::sink> create_exclusive(const std::filesystem::path& path, stage_error& error) {
  std::error_code ec;
  auto file = std::make_unique<io::new_file>(path, ec);
  if (ec) error = io_failure("cannot create " + path.string(), ec);
  return file;
}

}  // namespace

output_file::output_file(std::filesystem::path path, const io::stored_format& format,
                         const io::codec_settings& codec, stage_error& error)
    : path_(std::move(path)), chain_(create_exclusive(path_, error)) {
  // Built from the file backwards: stored hash, the codecs, plain hash.
  stored_ = &chain_.push_front<io::hash_filter>();
  io::push_write_stages(chain_, format, codec);
  plain_ = &chain_.push_front<io::hash_filter>();
}

stage_error output_file::close(stage_error error, stored_sums& out) {
  if (!error) {
    if (const auto ec = chain_.finish()) error = io_failure("finishing " + path_.string(), ec);
  }
  if (error) {
    chain_.abort();
    return error;
  }
  out.bytes = stored_->bytes();
  out.digest = stored_->digest();
  out.plain_bytes = plain_->bytes();
  out.plain_digest = plain_->digest();
  return {};
}

}  // namespace pgship::agent
