#pragma once
// curl as the tests' independent HTTP client: the status code and the body of one request.

#include <string>
#include <vector>

namespace pgship::test {

struct curl_result {
  int status = 0;  // 0: no answer (connection refused, closed, timed out)
  std::string body;
  std::string error;
};

/// Runs `curl -sS <args>`, returning the HTTP status and body.
curl_result curl(std::vector<std::string> args);

}  // namespace pgship::test
