#include "app/open_storage.hpp"

#include "storage/posix/posix_storage.hpp"
#include "storage/s3/s3_storage.hpp"

namespace pgship::receiver {

std::unique_ptr<storage> open_storage(const settings& s, bool serving) {
  if (!s.s3) return std::make_unique<posix_storage>(s.storage_dir, serving);
  s3::s3_settings c;
  c.client.endpoint = s.s3_endpoint;
  c.client.bucket = s.s3_bucket;
  c.client.creds = {s.s3_access_key, s.s3_secret_key, s.s3_region, "s3"};
  c.client.path_style = s.s3_path_style;
  c.client.ca_file = s.s3_ca_file;
  c.prefix = s.s3_prefix;
  c.object_lock_days = s.s3_object_lock_days;
  c.spool_dir = s.storage_dir / ".incoming";
  c.abort_left_uploads = serving;
  return std::make_unique<s3::s3_storage>(std::move(c));
}

}  // namespace pgship::receiver
