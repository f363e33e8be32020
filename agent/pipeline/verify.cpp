#include "pipeline/verify.hpp"
#include <algorithm>
#include <system_error>

#include "child_process.hpp"

namespace pgship::agent {

boost::asio::awaitable<stage_error> run_verify(const std::filesystem::path& file,
                                               const sha256_digest& expected,
                                               const pg_tool& pg_restore, verify_output& out) {
  std::error_code ec;
  const auto digest = sha256_of_file(file, ec);
  if (!digest) {
    co_return fail(errc::local_io_failed,
                   "cannot read back " + file.string() + ": " + ec.message());
  }
  out.bytes_read = std::filesystem::file_size(file, ec);
  if (*digest != expected) {
    co_return fail(errc::verify_failed, "sha256 of " + file.filename().string() +
                                            " read back from disk (" + to_hex(*digest) +
                                            ") differs from the one computed while dumping (" +
                                            to_hex(expected) + ")");
  }

  // The listing can be long (one line per object): count it instead of keeping it.
  std::uint64_t entries = 0;
  bool line_start = true;
  stdout_sink sink = [&](std::span<const char> data) -> std::error_code {
    for (const char c : data) {
      if (line_start && c != ';' && c != '\n') ++entries;
      line_start = c == '\n';
    }
    return {};
  };
  child_spec spec;
  spec.program = pg_restore.path;
  spec.args = {"--list", file.string()};
  const auto result = co_await run_child(spec, std::move(sink));
  if (!result.ok()) {
    const auto why = result.last_error_line();
    co_return fail(errc::restore_list_failed,
                   "pg_restore --list rejected " + file.filename().string() + " (" +
                       result.describe() + ")" + (why.empty() ? "" : ": " + why));
  }
  out.toc_entries = entries;
  co_return stage_error{};
}

}  // namespace pgship::agent
