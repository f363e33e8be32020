#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <pgship/common/background_sha256.hpp>

namespace pgship {

background_sha256::background_sha256(net::thread_pool& pool, sha256 start)
    : pool_(pool), hasher_(std::move(start)) {}

background_sha256::~background_sha256() {
  // The pool must not touch a buffer or hasher that is gone.
  if (pending_.valid()) pending_.wait();
}

void background_sha256::wait() {
  if (pending_.valid()) pending_.get();
}

void background_sha256::update(std::string_view data) {
  wait();
  pending_ = net::post(pool_, net::use_future([this, data] { hasher_.update(data); }));
}

sha256 background_sha256::take() {
  wait();
  return std::move(hasher_);
}

}  // namespace pgship
