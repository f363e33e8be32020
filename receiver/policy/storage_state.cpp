#include "policy/storage_state.hpp"

namespace pgship::receiver {

storage_state check_storage(receiver_context& ctx) {
  storage_state state;
  state.free_bytes = ctx.incoming.free_bytes();
  if (!ctx.incoming.writable()) {
    state.not_writable = "storage directory is not writable";
  } else if (auto trouble = ctx.store->problem(); !trouble.empty()) {
    state.not_writable = std::move(trouble);
  }
  if (!state.free_bytes) {
    state.low_space = "cannot read free space of the storage file system";
  } else if (*state.free_bytes < ctx.cfg.min_free_bytes) {
    state.low_space = "free space " + std::to_string(*state.free_bytes) +
                      " bytes is below MIN_FREE_BYTES (" + std::to_string(ctx.cfg.min_free_bytes) +
                      ")";
  }
  return state;
}

}  // namespace pgship::receiver
