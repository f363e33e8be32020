#pragma once
// The filter chain every byte stream of pgship runs through (pgBackRest's IoFilterGroup): a
// source pushes pieces into the first stage; a filter passes them on, changed (zstd) or not
// (SHA-256, byte counts, progress), to the next; a sink ends the chain (a file, a buffer an
// async writer drains). finish() ends the stream: a filter flushes what it holds back, then
// finishes its next stage; abort() abandons it instead, down to the end (a new file is
// removed). Every stage reports failure as an error code, never by throwing.

#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace pgship::io {

class sink {
 public:
  virtual ~sink() = default;
  /// Takes the next bytes of the stream (they are not kept after it returns).
  virtual std::error_code write(std::span<const char> data) = 0;
  /// The stream ended: flush and end the stages after this one.
  virtual std::error_code finish() = 0;
  /// The stream is abandoned (nothing more is written, nothing finished): drop what is held,
  /// and so do the stages after this one.
  virtual void abort() {}
  /// What a failure `ec` of this stage or a later one says: the failing stage's own detail
  /// (which age chunk) when it has one, else ec.message().
  virtual std::string describe(const std::error_code& ec) const { return ec.message(); }
};

/// A stage that passes bytes on to the next one.
class filter : public sink {
 public:
  explicit filter(sink& next) : next_(next) {}
  std::error_code finish() override { return next_.finish(); }
  void abort() override { next_.abort(); }
  std::string describe(const std::error_code& ec) const override { return next_.describe(ec); }

 protected:
  sink& next_;
};

/// Collects what reaches it, for a caller that moves it on asynchronously (a pipe, a socket)
/// and then clears it, or for tests.
class buffer_sink final : public sink {
 public:
  std::error_code write(std::span<const char> data) override {
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    return {};
  }
  std::error_code finish() override {
    finished_ = true;
    return {};
  }
  const std::vector<char>& bytes() const { return bytes_; }
  std::string text() const { return {bytes_.begin(), bytes_.end()}; }
  void clear() { bytes_.clear(); }
  /// What it holds, moved out (it is empty afterwards).
  std::vector<char> take() { return std::exchange(bytes_, {}); }
  bool finished() const { return finished_; }

 private:
  std::vector<char> bytes_;
  bool finished_ = false;
};

/// Drops everything (a chain whose results are all it is run for).
class discard_sink final : public sink {
 public:
  std::error_code write(std::span<const char>) override { return {}; }
  std::error_code finish() override { return {}; }
};

}  // namespace pgship::io
