#pragma once
// The result that crosses every stage boundary of the agent: a code from the pgship error
// catalogue (also the exit code and the `reason` label) and a one-line message for people.

#include <string>
#include <utility>

#include <boost/system/error_code.hpp>

#include <pgship/common/errors.hpp>

namespace pgship::agent {

struct stage_error {
  boost::system::error_code code;
  std::string message;

  bool failed() const { return code.failed(); }
  explicit operator bool() const { return failed(); }
};

inline stage_error fail(errc code, std::string message) {
  return {make_error_code(code), std::move(message)};
}

}  // namespace pgship::agent
