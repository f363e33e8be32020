#include "curl.hpp"
#include <chrono>
#include <cstdlib>

#include "process.hpp"

namespace pgship::test {

curl_result curl(std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl", "-sS", "-w", "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, {.timeout = std::chrono::seconds(120)});
  curl_result out;
  out.error = r.err;
  const auto nl = r.out.rfind('\n');
  if (nl == std::string::npos) return out;
  out.status = std::atoi(r.out.c_str() + nl + 1);
  out.body = r.out.substr(0, nl);
  return out;
}

}  // namespace pgship::test
