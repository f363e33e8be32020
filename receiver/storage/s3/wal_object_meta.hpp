#pragma once
// A stored WAL file's meta (wal_unit_meta) as the x-amz-meta-* headers of its object, so the
// object needs no sidecar. Engines limit metadata (Swift: 256 bytes a value, 4 KiB in all;
// AWS: 2 KiB in all), so the time map goes in pieces of at most 200 bytes
// (x-amz-meta-time-map-0, -1, ...) and a map longer than 1 KiB keeps its first and newest
// samples and every other one between, as often as needed to fit.

#include <optional>

#include "storage/s3/bucket.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver::s3 {

/// The headers to PUT with the object (names in lower case).
header_list to_object_metadata(const wal_unit_meta& meta);
/// What head() returned as `metadata`; nullopt when it is not a WAL file's meta.
std::optional<wal_unit_meta> wal_unit_meta_from_object(const header_list& metadata);
/// The time map as it is kept: `time_map` itself when it fits in 1 KiB.
std::string fitted_time_map(const std::string& time_map);

}  // namespace pgship::receiver::s3
