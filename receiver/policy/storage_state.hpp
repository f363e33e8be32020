#pragma once
// The receiver's storage as /health, /readyz and whoami judge it, read in one place so the
// three never disagree: whether anything can be stored now (readiness) and whether there is
// room for an upload (MIN_FREE_BYTES). Scrub findings are not storage state: only /health
// counts them.

#include <cstdint>
#include <optional>
#include <string>

#include "state/context.hpp"

namespace pgship::receiver {

struct storage_state {
  std::optional<std::uint64_t> free_bytes;
  /// Why nothing can be stored now ("" when it can): the spool directory is not writable, or
  /// the backend has a problem (a lost bucket). /readyz fails on this alone.
  std::string not_writable;
  /// Why an upload would get 507 now ("" when there is room): free space unknown or below
  /// MIN_FREE_BYTES.
  std::string low_space;

  /// The first reason uploads cannot be stored now; "" when they can.
  const std::string& upload_blocker() const {
    return not_writable.empty() ? low_space : not_writable;
  }
};

/// Checks the spool (creates and removes a file) and reads the backend's last problem; never
/// blocks on the network.
storage_state check_storage(receiver_context& ctx);

}  // namespace pgship::receiver
