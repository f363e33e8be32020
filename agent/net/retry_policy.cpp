#include "net/retry_policy.hpp"
#include <algorithm>
#include <cmath>

#include <pgship/common/wire/tus.hpp>

namespace pgship::agent {

reply_class classify_reply(unsigned status, std::optional<wire::api_error> error) {
  if (status / 100 == 2) return reply_class::success;
  switch (status) {
    case 408:  // request timeout
    case 423:  // locked: the receiver still finishes a PATCH from a cut connection
    case 429:
    case wire::tus::checksum_mismatch_status:  // damaged on the way: send it again
      return reply_class::retry;
    case 409:
      return error == wire::api_error::offset_mismatch ? reply_class::retry
                                                       : reply_class::permanent;
    case 507:  // insufficient storage will not fix itself within a backoff
      return reply_class::permanent;
    default:
      return status / 100 == 5 ? reply_class::retry : reply_class::permanent;
  }
}

errc refusal_code(unsigned status, std::optional<wire::api_error> error) {
  if (status == 401 || (status == 403 && error != wire::api_error::conflict)) {
    return errc::receiver_auth_failed;
  }
  if (status == 422) return errc::hash_mismatch;
  return errc::upload_rejected;
}

std::chrono::milliseconds backoff_delay(std::chrono::milliseconds first, int retry,
                                        double unit_random) {
  constexpr double cap_ms = 10 * 60 * 1000.0;
  const double exponent = std::clamp(retry - 1, 0, 30);
  const double base = std::min(cap_ms, static_cast<double>(first.count()) * std::exp2(exponent));
  const double factor = 0.5 + 0.5 * std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(base * factor));
}

}  // namespace pgship::agent
