#include "net/receiver_endpoint.hpp"

#include <boost/url/parse.hpp>

namespace pgship::agent {

std::optional<receiver_endpoint> receiver_endpoint::parse(std::string_view url) {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return std::nullopt;
  receiver_endpoint ep;
  const auto scheme = parsed->scheme();
  if (scheme != "http" && scheme != "https") return std::nullopt;
  ep.tls = scheme == "https";
  ep.host = parsed->host_address();
  if (ep.host.empty()) return std::nullopt;
  ep.port = parsed->has_port() ? std::string(parsed->port()) : (ep.tls ? "443" : "80");
  ep.base_path = parsed->encoded_path();
  while (!ep.base_path.empty() && ep.base_path.back() == '/')
    ep.base_path.pop_back();
  return ep;
}

std::string receiver_endpoint::target(std::string_view path) const {
  return base_path + std::string(path);
}

std::string receiver_endpoint::origin() const {
  return (tls ? "https://" : "http://") + host + ":" + port;
}

}  // namespace pgship::agent
