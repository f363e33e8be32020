#pragma once
// STORAGE_BACKEND: the store the settings ask for.

#include <memory>

#include "state/settings.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver {

/// Throws (config_error, std::system_error) when the store cannot work as configured: the
/// receiver refuses to start rather than store less safely than it was asked to.
/// `serving`: this process is the server, so it cleans what a stopped one left; a command run
/// beside a running server (retention) leaves that alone.
std::unique_ptr<storage> open_storage(const settings& s, bool serving = true);

}  // namespace pgship::receiver
