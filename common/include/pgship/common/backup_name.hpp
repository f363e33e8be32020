#pragma once
// Backup file names: `<database>-<YYYYMMDD>-<HHMMSS>.<ext>` (UTC), `<ext>` one of `dump` (a
// pg_dump custom archive), `dump.zst` (the same, zstd-compressed by the agent), and either of
// them with `.age` (an age v1 file); archives are `tar[.zst][.age]`; the cluster's globals
// (`pg_dumpall --globals-only`: roles, memberships, tablespaces) are
// `globals-<YYYYMMDD>-<HHMMSS>.sql[.zst][.age]`; physical base backups (pg_basebackup's tar of
// the whole cluster) are `pgdata-<YYYYMMDD>-<HHMMSS>.base.tar[.zst][.age]`. The extension
// makes the kind, so a database that is itself called `globals` (or an archive called
// `pgdata`) never mixes with them. The database part may itself contain '-'; the timestamp is
// the last two dash-separated fields.

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <pgship/common/io/stored_format.hpp>

namespace pgship {

namespace detail {

/// In backup_kind's order.
inline constexpr std::string_view base_extensions[] = {".dump", ".tar", ".sql", ".base.tar"};

struct extension_text {
  char text[32] = {};
  std::size_t size = 0;
};

// Every base extension with every stored format's (io/stored_format.hpp), in that order.
constexpr auto make_extension_texts() {
  std::array<extension_text,
             std::size(base_extensions) * std::size(io::encryptions) * std::size(io::compressions)>
      out{};
  std::size_t i = 0;
  for (const auto base : base_extensions) {
    for (const auto& e : io::encryptions) {
      for (const auto& c : io::compressions) {
        auto& t = out[i++];
        for (const auto part : {base, c.extension, e.extension}) {
          for (const char ch : part)
            t.text[t.size++] = ch;
        }
      }
    }
  }
  return out;
}
inline constexpr auto extension_texts = make_extension_texts();

constexpr auto make_extension_views() {
  std::array<std::string_view, extension_texts.size()> out{};
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = std::string_view(extension_texts[i].text, extension_texts[i].size);
  return out;
}

}  // namespace detail

/// The extensions a backup file may have, with their dot: ".dump", ".dump.zst", ".dump.age",
/// ".dump.zst.age", ".tar", ...
inline constexpr auto backup_extensions = detail::make_extension_views();

/// What a backup file holds: a database's pg_dump archive (`.dump*`), an ARCHIVE_DIRS tarball
/// (`.tar*`), the cluster's roles and tablespaces (`.sql*`, named `globals-...`), or a
/// physical base backup of the whole cluster (`.base.tar*`, named `pgdata-...`).
enum class backup_kind { dump, archive, globals, basebackup };

/// Every kind, in order.
inline constexpr backup_kind backup_kinds[] = {backup_kind::dump, backup_kind::archive,
                                               backup_kind::globals, backup_kind::basebackup};

/// The name part of every globals backup (`globals-<stamp>.sql...`).
inline constexpr std::string_view globals_name = "globals";
/// The name part of every base backup (`pgdata-<stamp>.base.tar...`).
inline constexpr std::string_view basebackup_name = "pgdata";

/// "dump", "archive", "globals", "basebackup": as list records and manifests spell it.
std::string_view to_string(backup_kind kind);
/// nullopt for anything but those four words.
std::optional<backup_kind> parse_backup_kind(std::string_view text);
/// The kind an extension (one of backup_extensions) makes.
backup_kind kind_of_extension(std::string_view extension);
/// The base extension of a kind (".dump", ".tar", ".sql", ".base.tar"), before ".zst" and
/// ".age".
std::string_view base_extension(backup_kind kind);

struct backup_name {
  std::string database;                         // `globals` for the globals kind
  std::chrono::system_clock::time_point taken;  // UTC, whole seconds
  std::string extension;                        // one of backup_extensions
  backup_kind kind = backup_kind::dump;         // what the extension makes it
};

/// nullopt unless `file_name` is a safe name (fs::is_safe_name) of exactly that form with a
/// valid calendar date and time (month 1-12, day valid for the month incl. leap years,
/// hour < 24, minute < 60, second < 60) and a non-empty database part; a `.sql*` name's part
/// must be `globals`, a `.base.tar*` name's `pgdata`.
std::optional<backup_name> parse_backup_name(std::string_view file_name);

/// The name for `database` at `taken` (truncated to seconds, UTC).
std::string format_backup_name(std::string_view database,
                               std::chrono::system_clock::time_point taken,
                               std::string_view extension = ".dump");

/// The names a backup upload may have, for error messages:
/// "<database>-<YYYYMMDD>-<HHMMSS>.dump[.zst][.age] or .tar[.zst][.age]".
std::string backup_name_forms();

/// `name` without its backup extension ("app-20261121-030000" of "...030000.dump.zst"); the
/// name itself when it has none.
std::string_view backup_stem(std::string_view name);

}  // namespace pgship
