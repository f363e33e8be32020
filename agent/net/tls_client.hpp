#pragma once
// The agent's TLS client settings: TLS 1.2 or newer, the receiver's certificate verified
// against the system store or CA_FILE, and an optional client certificate for mutual TLS.

#include <filesystem>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/result.hpp>

namespace pgship::agent {

struct tls_files {
  std::optional<std::filesystem::path> ca_file;
  std::optional<std::filesystem::path> client_cert_file;
  std::optional<std::filesystem::path> client_key_file;
};

/// The client context for `files`; an error names the setting when a file does not load (a
/// start-up style mistake, reported per run rather than thrown).
boost::system::result<boost::asio::ssl::context, std::string> make_client_tls_context(
    const tls_files& files);

}  // namespace pgship::agent
