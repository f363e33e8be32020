#include <pgship/common/io/stored_format.hpp>

namespace pgship::io {
namespace {

// The codec of `table` whose extension ends `name` (which is then cut off), or its first row.
template <class Codec, std::size_t N>
Codec strip_extension(std::string_view& name, const codec_name (&table)[N]) {
  for (std::size_t i = 1; i < N; ++i) {
    if (name.ends_with(table[i].extension)) {
      name.remove_suffix(table[i].extension.size());
      return static_cast<Codec>(i);
    }
  }
  return static_cast<Codec>(0);
}

}  // namespace

std::string_view to_string(compression c) {
  return compressions[static_cast<std::size_t>(c)].name;
}

std::string_view to_string(encryption e) {
  return encryptions[static_cast<std::size_t>(e)].name;
}

compression compression_named(std::string_view name) {
  for (std::size_t i = 0; i < std::size(compressions); ++i) {
    if (compressions[i].name == name) return static_cast<compression>(i);
  }
  return compression::none;
}

std::string stored_extension(std::string_view base, const stored_format& format) {
  std::string out(base);
  out += compressions[static_cast<std::size_t>(format.compress)].extension;
  out += encryptions[static_cast<std::size_t>(format.encrypt)].extension;
  return out;
}

stored_format format_of_name(std::string_view name) {
  stored_format format;
  format.encrypt = strip_extension<encryption>(name, encryptions);
  format.compress = strip_extension<compression>(name, compressions);
  return format;
}

}  // namespace pgship::io
