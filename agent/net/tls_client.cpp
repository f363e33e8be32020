#include "net/tls_client.hpp"
#include <utility>

#include <openssl/ssl.h>

namespace pgship::agent {

namespace ssl = boost::asio::ssl;

boost::system::result<ssl::context, std::string> make_client_tls_context(const tls_files& files) {
  try {
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(ssl::verify_peer);
    if (files.ca_file) {
      ctx.load_verify_file(files.ca_file->string());
    } else {
      ctx.set_default_verify_paths();
    }
    if (files.client_cert_file && files.client_key_file) {
      ctx.use_certificate_chain_file(files.client_cert_file->string());
      ctx.use_private_key_file(files.client_key_file->string(), ssl::context::pem);
    }
    return ctx;
  } catch (const boost::system::system_error& e) {
    return boost::system::result<ssl::context, std::string>(
        boost::system::in_place_error,
        "TLS set-up (CA_FILE / CLIENT_CERT_FILE / CLIENT_KEY_FILE): " + e.code().message());
  }
}

}  // namespace pgship::agent
