#pragma once
// Filters that pass every byte on unchanged and produce a result: its SHA-256 and length, a
// count reported as it grows, the first bytes (to recognise a format by its magic).

#include <cstdint>
#include <functional>
#include <string>

#include <pgship/common/io/sink.hpp>
#include <pgship/common/sha256.hpp>

namespace pgship::io {

/// SHA-256 and byte count of everything that passes. The agent's dump, verify and download
/// and the receiver's ingest all hash through this one.
class hash_filter final : public filter {
 public:
  using filter::filter;
  std::error_code write(std::span<const char> data) override;
  std::error_code finish() override;
  /// Valid after finish().
  const sha256_digest& digest() const { return digest_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  sha256 hash_;
  sha256_digest digest_{};
  std::uint64_t bytes_ = 0;
};

/// Ends a chain in a running hash the caller keeps (to continue it later, or to clone it).
class hash_sink final : public sink {
 public:
  explicit hash_sink(sha256& hash) : hash_(hash) {}
  std::error_code write(std::span<const char> data) override {
    hash_.update(data.data(), data.size());
    return {};
  }
  std::error_code finish() override { return {}; }

 private:
  sha256& hash_;
};

/// Counts the bytes and calls `on_bytes(total)` after each piece (live progress).
class count_filter final : public filter {
 public:
  count_filter(sink& next, std::function<void(std::uint64_t)> on_bytes = nullptr)
      : filter(next), on_bytes_(std::move(on_bytes)) {}
  std::error_code write(std::span<const char> data) override;
  std::uint64_t bytes() const { return bytes_; }

 private:
  std::function<void(std::uint64_t)> on_bytes_;
  std::uint64_t bytes_ = 0;
};

/// Keeps the first `keep` bytes that pass.
class head_filter final : public filter {
 public:
  head_filter(sink& next, std::size_t keep) : filter(next), keep_(keep) {}
  std::error_code write(std::span<const char> data) override;
  const std::string& head() const { return head_; }

 private:
  std::size_t keep_;
  std::string head_;
};

}  // namespace pgship::io
