#include "pipeline/manifest_source.hpp"
#include <span>

#include <pgship/common/age/age_errors.hpp>
#include <pgship/common/io/age_filters.hpp>
#include <pgship/common/io/sink.hpp>

namespace pgship::agent {

namespace net = boost::asio;

namespace {

std::optional<manifest> decrypt_manifest(const settings& cfg, const std::string& bytes,
                                         std::string& note) {
  if (cfg.age_identities.empty()) {
    note = "the receiver's manifest is encrypted and AGE_IDENTITY_FILE is not set";
    return std::nullopt;
  }
  io::buffer_sink plain;
  io::age_decryptor decrypt(plain, io::age_secrets{cfg.age_identities, {}});
  auto ec = decrypt.write(std::span<const char>(bytes.data(), bytes.size()));
  if (!ec) ec = decrypt.finish();
  if (ec) {
    note = "the receiver's manifest does not decrypt: " +
           (age::is_age_error(ec) ? decrypt.problem() : ec.message());
    return std::nullopt;
  }
  return parse_manifest(plain.text());
}

}  // namespace

net::awaitable<std::optional<manifest>> find_manifest(const settings& cfg, http_client& client,
                                                      const remote_backup& backup,
                                                      std::string& note) {
  auto local = read_manifest(manifest_path(cfg.backup_dir, backup.id));
  if (local && local->sha256 == backup.sha256) co_return local;
  std::string bytes;
  std::string stored_name;
  const auto error =
      co_await download_manifest(client, cfg.backup_api_token, backup.id, bytes, stored_name);
  if (error) {
    note = "cannot fetch the manifest of " + backup.id + ": " + error.message;
    co_return std::nullopt;
  }
  if (stored_name.empty()) {
    note = local ? "the local manifest of " + backup.id +
                       " is of other bytes, and the receiver keeps none"
                 : "neither BACKUP_DIR nor the receiver has a manifest of " + backup.id;
    co_return std::nullopt;
  }
  auto remote =
      stored_name.ends_with(".age") ? decrypt_manifest(cfg, bytes, note) : parse_manifest(bytes);
  if (!remote) {
    if (note.empty()) note = "the receiver's manifest of " + backup.id + " is not a manifest";
    co_return std::nullopt;
  }
  if (remote->sha256 != backup.sha256) {
    note = "the receiver's manifest of " + backup.id + " is of other bytes";
    co_return std::nullopt;
  }
  co_return remote;
}

}  // namespace pgship::agent
