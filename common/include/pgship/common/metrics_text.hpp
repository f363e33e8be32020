#pragma once
// Prometheus text exposition of a prometheus-cpp registry, for our own /metrics handler and
// the agent's METRICS_TEXTFILE.

#include <string>

#include <prometheus/registry.h>

namespace pgship {

inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Thread-safe as far as the registry is (prometheus-cpp collectors are).
std::string render_metrics(const prometheus::Registry& registry);

}  // namespace pgship
