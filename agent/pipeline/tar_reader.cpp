#include "pipeline/tar_reader.hpp"
#include <algorithm>
#include <charconv>

namespace pgship::agent {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\0'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0'))
    s.remove_suffix(1);
  return s;
}

constexpr std::size_t long_name_limit = 64 * 1024;

}  // namespace

std::string_view tar_field(const char* p, std::size_t n) {
  const auto* end = std::find(p, p + n, '\0');
  return {p, static_cast<std::size_t>(end - p)};
}

std::optional<std::uint64_t> tar_number(const char* p, std::size_t n) {
  if ((static_cast<unsigned char>(p[0]) & 0x80) != 0) {
    std::uint64_t v = static_cast<unsigned char>(p[0]) & 0x7f;
    for (std::size_t i = 1; i < n; ++i)
      v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
  }
  const auto text = trim(tar_field(p, n));
  if (text.empty()) return 0;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 8);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::error_code tar_reader::bad(std::string why) {
  problem_ = std::move(why);
  return make_error_code(std::errc::bad_message);
}

std::error_code tar_reader::write(std::span<const char> bytes) {
  if (!problem_.empty()) return make_error_code(std::errc::bad_message);
  while (!bytes.empty() && !complete_) {
    if (data_left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(data_left_, bytes.size()));
      const auto piece = bytes.first(n);
      if (long_name_next_) {
        if (captured_.size() + n > long_name_limit) return bad("a tar long name is too long");
        captured_.append(piece.data(), piece.size());
      } else if (const auto ec = handler_.data(piece)) {
        return ec;
      }
      data_left_ -= n;
      bytes = bytes.subspan(n);
      if (data_left_ == 0 && in_member_) {
        in_member_ = false;
        if (const auto ec = handler_.end()) return ec;
      }
      if (data_left_ == 0 && long_name_next_)
        long_name_ = std::string(tar_field(captured_.data(), captured_.size()));
      continue;
    }
    if (pad_left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(pad_left_, bytes.size()));
      pad_left_ -= n;
      bytes = bytes.subspan(n);
      continue;
    }
    const auto n = std::min(block - header_fill_, bytes.size());
    std::copy_n(bytes.data(), n, header_ + header_fill_);
    header_fill_ += n;
    bytes = bytes.subspan(n);
    if (header_fill_ == block) {
      header_fill_ = 0;
      if (const auto ec = header_done()) return ec;
    }
  }
  return {};
}

std::error_code tar_reader::header_done() {
  if (std::all_of(header_, header_ + block, [](char c) { return c == '\0'; })) {
    if (++zero_blocks_ == 2) complete_ = true;
    return {};
  }
  zero_blocks_ = 0;
  const auto size = tar_number(header_ + 124, 12);
  const auto mode = tar_number(header_ + 100, 8);
  if (!size || !mode) return bad("a tar header has a bad size or mode");
  const char type = header_[156];
  data_left_ = *size;
  pad_left_ = (block - *size % block) % block;
  if (type == 'L') {
    long_name_next_ = true;
    captured_.clear();
    if (data_left_ == 0) long_name_.clear();
    return {};
  }
  long_name_next_ = false;
  tar_member m;
  m.name = std::move(long_name_);
  long_name_.clear();
  if (m.name.empty()) {
    const auto prefix = tar_field(header_ + 345, 155);
    const auto base = tar_field(header_ + 0, 100);
    m.name = prefix.empty() ? std::string(base) : std::string(prefix) + "/" + std::string(base);
  }
  m.type = type == '\0' ? '0' : type;
  m.mode = static_cast<std::uint32_t>(*mode & 07777);
  m.size = *size;
  m.link = std::string(tar_field(header_ + 157, 100));
  in_member_ = true;
  if (const auto ec = handler_.begin(m)) return ec;
  if (data_left_ == 0) {
    in_member_ = false;
    return handler_.end();
  }
  return {};
}

}  // namespace pgship::agent
