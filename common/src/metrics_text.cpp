#include <prometheus/text_serializer.h>

#include <pgship/common/metrics_text.hpp>

namespace pgship {

std::string render_metrics(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

}  // namespace pgship
