#pragma once
// A chain as one object (pgBackRest's IoFilterGroup): its stages, in order and owned, in front
// of the sink that ends it. The group is itself a sink: write() and finish() go to its first
// stage, abort() abandons the stream down to the end, describe() lets the stage that failed
// say why. A chain is built from its end: each stage pushed becomes the new first one.

#include <memory>
#include <utility>
#include <vector>

#include <pgship/common/io/sink.hpp>

namespace pgship::io {

class filter_group final : public sink {
 public:
  /// An empty chain in front of `end`, which stays the caller's.
  explicit filter_group(sink& end) : first_(&end) {}
  /// An empty chain in front of `end`, which the group owns.
  explicit filter_group(std::unique_ptr<sink> end) : end_(std::move(end)), first_(end_.get()) {}
  ~filter_group() override;
  filter_group(const filter_group&) = delete;
  filter_group& operator=(const filter_group&) = delete;

  /// Makes `F(first, args...)` the chain's new first stage and returns it.
  template <class F, class... Args>
  F& push_front(Args&&... args) {
    auto stage = std::make_unique<F>(*first_, std::forward<Args>(args)...);
    F& made = *stage;
    stages_.push_back(std::move(stage));
    first_ = &made;
    return made;
  }

  std::error_code write(std::span<const char> data) override { return first_->write(data); }
  std::error_code finish() override { return first_->finish(); }
  void abort() override { first_->abort(); }
  std::string describe(const std::error_code& ec) const override { return first_->describe(ec); }

 private:
  std::unique_ptr<sink> end_;                  // when owned
  sink* first_;                                // where bytes go in: the end while no stage is
  std::vector<std::unique_ptr<sink>> stages_;  // the end's neighbour first
};

}  // namespace pgship::io
