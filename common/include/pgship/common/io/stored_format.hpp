#pragma once
// How a backup's bytes are stored: compressed by one codec or not, encrypted by one or not,
// and the extensions that say so in its name (`app-20261201-030000.dump.zst.age`). These two
// tables are the codecs' names: a new codec is a row here, its cases in the chain factory
// (io/codec_chain.hpp) and its filters.

#include <cstddef>
#include <string>
#include <string_view>

namespace pgship::io {

enum class compression { none, zstd };
enum class encryption { none, age };

struct codec_name {
  std::string_view name;       // COMPRESSION's value, the manifest's `compression`
  std::string_view extension;  // what it adds to a backup's name, with its dot
};

/// In enum order.
inline constexpr codec_name compressions[] = {{"none", ""}, {"zstd", ".zst"}};
inline constexpr codec_name encryptions[] = {{"none", ""}, {"age", ".age"}};

struct stored_format {
  compression compress = compression::none;
  encryption encrypt = encryption::none;

  bool compressed() const { return compress != compression::none; }
  bool encrypted() const { return encrypt != encryption::none; }
  /// Stored as the producer wrote it: nothing between the producer and the file.
  bool as_produced() const { return !compressed() && !encrypted(); }
  bool operator==(const stored_format&) const = default;
};

/// "none", "zstd" / "none", "age".
std::string_view to_string(compression c);
std::string_view to_string(encryption e);
/// The compression called `name`; none for a name that is none of them (COMPRESSION=pg_dump:
/// pg_dump compresses, the agent does not).
compression compression_named(std::string_view name);

/// `base` (".dump", ".tar", ".sql") with the format's extensions: the compression's, then the
/// encryption's (".dump.zst.age").
std::string stored_extension(std::string_view base, const stored_format& format);
/// The format a backup's name (or its extension) says: the encryption's extension last, the
/// compression's before it. A name with neither is stored as produced.
stored_format format_of_name(std::string_view name);

}  // namespace pgship::io
