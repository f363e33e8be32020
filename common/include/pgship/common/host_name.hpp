#pragma once
// This machine's name, as manifests and events carry it.

#include <string>

namespace pgship {

/// gethostname(), or "unknown".
std::string host_name();

}  // namespace pgship
