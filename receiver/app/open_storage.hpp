#pragma once
// STORAGE_BACKEND: the store the settings ask for.

#include <memory>

#include "state/settings.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver {

/// Throws (config_error, std::system_error) when the store cannot work as configured: the
/// receiver refuses to start rather than store less safely than it was asked to.
std::unique_ptr<storage> open_storage(const settings& s);

}  // namespace pgship::receiver
