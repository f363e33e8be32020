#include "app/tls_context.hpp"
#include <string>

#include <pgship/common/config.hpp>

namespace pgship::receiver {

std::shared_ptr<net::ssl::context> make_tls_context(const settings& s) {
  if (!s.tls_cert_file) return nullptr;
  auto tls = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                   net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                   net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
  try {
    tls->use_certificate_chain_file(s.tls_cert_file->string());
    tls->use_private_key_file(s.tls_key_file->string(), net::ssl::context::pem);
    if (s.tls_client_ca_file) {
      tls->load_verify_file(s.tls_client_ca_file->string());
      tls->set_verify_mode(net::ssl::verify_peer | net::ssl::verify_fail_if_no_peer_cert);
    }
  } catch (const boost::system::system_error& e) {
    throw config::config_error("TLS_CERT_FILE/TLS_KEY_FILE/TLS_CLIENT_CA_FILE: cannot load: " +
                               std::string(e.what()));
  }
  return tls;
}

}  // namespace pgship::receiver
