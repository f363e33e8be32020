#include "wal/unit_shipping.hpp"

namespace pgship::agent::wal {

namespace net = boost::asio;

wal_unit_put to_put(const sealed_unit& unit) {
  wal_unit_put put;
  put.file_name = unit.file_name();
  put.stored = unit.stored;
  put.stored_sha256 = unit.stored_sha256;
  put.plaintext_sha256 = unit.plaintext_sha256;
  put.plaintext_size = unit.plaintext_size;
  put.segment_size = unit.segment_size;
  put.time_map = unit.time_map;
  put.timeline_switch = unit.timeline_switch;
  return put;
}

net::awaitable<wal_api::put_outcome> put_sealed_unit(wal_api& api, const sealed_unit& unit) {
  const auto put = to_put(unit);
  co_return co_await api.put_unit(put);
}

ship_queue::sender send_through(wal_api& api) {
  return [&api](const sealed_unit& unit) { return put_sealed_unit(api, unit); };
}

}  // namespace pgship::agent::wal
