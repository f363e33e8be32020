#pragma once
// Reading a range of one object, for the backups and the physical archive alike: one GET with
// Range, resumed where it stopped when the connection is lost midway, as long as the object is
// still the one first read (If-Match on its ETag, which is the reader's identity()).

#include <cstdint>
#include <memory>
#include <string>

#include "storage/s3/bucket.hpp"
#include "storage/storage.hpp"

namespace pgship::receiver::s3 {

/// Bytes [first, first + length) of `key`; ENOENT when there is no such object.
result<std::unique_ptr<object_reader>> open_object_range(bucket& b, const std::string& key,
                                                         std::uint64_t first, std::uint64_t length);

}  // namespace pgship::receiver::s3
