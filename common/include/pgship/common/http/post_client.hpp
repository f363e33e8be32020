#pragma once
// One outbound POST to a service that is not ours (a webhook, an Alertmanager): a fresh
// connection each time, the system's CAs and the host name verified for https, user:password
// in the URL sent as basic auth, one deadline from connecting to the answer (name resolution
// is the system resolver's). Both programs use it; the agent's receiver client (with its TLS
// files, resumable uploads and keep-alive) is another thing.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace pgship::http_client {

struct post_request {
  std::string url;  // http:// or https://, with path and query
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::seconds timeout{10};
};

struct post_result {
  unsigned status = 0;  // 0: no answer (see `error`)
  std::string error;    // why there was no answer; never carries the URL (it may be a secret)
  std::string body;     // the answer's first 4 KiB

  bool delivered() const { return status >= 200 && status < 300; }
};

boost::asio::awaitable<post_result> post(boost::asio::any_io_executor ex, post_request request);

}  // namespace pgship::http_client
