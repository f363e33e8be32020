#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <pgship/common/age/age_keys.hpp>

#include "primitives.hpp"

namespace pgship::age {
namespace bech32 {
namespace {

constexpr std::string_view charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

std::uint32_t polymod(const std::vector<unsigned char>& values) {
  constexpr std::uint32_t gen[] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::uint32_t chk = 1;
  for (const auto v : values) {
    const auto top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i)
      if ((top >> i) & 1) chk ^= gen[i];
  }
  return chk;
}

std::vector<unsigned char> hrp_expand(std::string_view hrp) {
  std::vector<unsigned char> out;
  for (const char c : hrp)
    out.push_back(static_cast<unsigned char>(c) >> 5);
  out.push_back(0);
  for (const char c : hrp)
    out.push_back(static_cast<unsigned char>(c) & 31);
  return out;
}

// Regroups bits; `pad` adds zero bits at the end (encoding), otherwise leftover bits must be
// fewer than `from` and zero (decoding).
bool convert_bits(std::span<const unsigned char> in, int from, int to, bool pad,
                  std::vector<unsigned char>& out) {
  std::uint32_t acc = 0;
  int bits = 0;
  const std::uint32_t maxv = (1u << to) - 1;
  for (const auto v : in) {
    if ((v >> from) != 0) return false;
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<unsigned char>((acc >> bits) & maxv));
    }
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<unsigned char>((acc << (to - bits)) & maxv));
  } else if (bits >= from || ((acc << (to - bits)) & maxv) != 0) {
    return false;
  }
  return true;
}

}  // namespace

bool decode(std::string_view text, std::string& hrp, std::vector<unsigned char>& data) {
  bool lower = false;
  bool upper = false;
  for (const char c : text) {
    if (c < 33 || c > 126) return false;
    lower = lower || (c >= 'a' && c <= 'z');
    upper = upper || (c >= 'A' && c <= 'Z');
  }
  if (lower && upper) return false;
  const auto sep = text.rfind('1');
  if (sep == std::string_view::npos || sep == 0 || sep + 7 > text.size()) return false;
  hrp.clear();
  for (const char c : text.substr(0, sep))
    hrp.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::vector<unsigned char> values;
  for (const char c : text.substr(sep + 1)) {
    const auto at = charset.find(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (at == std::string_view::npos) return false;
    values.push_back(static_cast<unsigned char>(at));
  }
  auto check = hrp_expand(hrp);
  check.insert(check.end(), values.begin(), values.end());
  if (polymod(check) != 1) return false;
  data.clear();
  values.resize(values.size() - 6);
  return convert_bits(values, 5, 8, false, data);
}

std::string encode(std::string_view hrp, std::span<const unsigned char> data) {
  std::vector<unsigned char> values;
  convert_bits(data, 8, 5, true, values);
  auto check = hrp_expand(hrp);
  check.insert(check.end(), values.begin(), values.end());
  check.insert(check.end(), 6, 0);
  const auto mod = polymod(check) ^ 1;
  for (int i = 0; i < 6; ++i)
    values.push_back((mod >> (5 * (5 - i))) & 31);
  std::string out(hrp);
  out.push_back('1');
  for (const auto v : values)
    out.push_back(charset[v]);
  return out;
}

}  // namespace bech32

namespace {

constexpr std::string_view recipient_hrp = "age";
constexpr std::string_view identity_hrp = "age-secret-key-";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// Each non-blank, non-comment line of an age key file, with its line number.
template <class F>
void for_each_key_line(std::string_view text, F&& f) {
  int number = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto line = trim(text.substr(0, nl));
    ++number;
    if (!line.empty() && line.front() != '#') f(line, number);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

recipient parse_recipient(std::string_view text) {
  std::string hrp;
  std::vector<unsigned char> data;
  // A secret key pasted where a public one belongs: say so without repeating it.
  std::string lowered(text.substr(0, identity_hrp.size()));
  for (auto& c : lowered)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered == identity_hrp) {
    throw std::invalid_argument(
        "an identity (AGE-SECRET-KEY-1...) was given where a recipient belongs: give its "
        "public key (age-keygen -y), and treat this one as exposed");
  }
  if (text.starts_with("ssh-")) {
    throw std::invalid_argument("'" + std::string(text.substr(0, 11)) +
                                "...' is an SSH key; only age X25519 recipients (age1...) are "
                                "supported");
  }
  const bool lowercase = std::none_of(text.begin(), text.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) != 0;
  });
  if (!bech32::decode(text, hrp, data) || hrp != recipient_hrp || data.size() != 32 || !lowercase) {
    const std::string shown(text.substr(0, 64));
    if (hrp.starts_with("age1") && hrp != recipient_hrp) {
      throw std::invalid_argument("'" + shown +
                                  "' is a plugin or post-quantum recipient; "
                                  "only age X25519 recipients (age1...) are supported");
    }
    throw std::invalid_argument("'" + shown + "' is not an age X25519 recipient (age1...)");
  }
  recipient r;
  std::copy(data.begin(), data.end(), r.public_key.begin());
  r.text = std::string(text);
  return r;
}

std::vector<recipient> parse_recipient_list(std::string_view text) {
  std::vector<recipient> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    if (!item.empty()) out.push_back(parse_recipient(item));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<recipient> parse_recipients_file(std::string_view text) {
  std::vector<recipient> out;
  for_each_key_line(text, [&](std::string_view line, int number) {
    try {
      out.push_back(parse_recipient(line));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("line " + std::to_string(number) + ": " + e.what());
    }
  });
  return out;
}

std::vector<identity> parse_identities_file(std::string_view text) {
  std::vector<identity> out;
  for_each_key_line(text, [&](std::string_view line, int number) {
    std::string hrp;
    std::vector<unsigned char> data;
    // The line itself is never echoed: it may be a key with a typo.
    if (!bech32::decode(line, hrp, data) || hrp != identity_hrp || data.size() != 32 ||
        line.front() != 'A') {
      throw std::invalid_argument("line " + std::to_string(number) +
                                  " is not an age X25519 identity (AGE-SECRET-KEY-1...)");
    }
    identity id;
    std::copy(data.begin(), data.end(), id.secret.begin());
    id.public_key = detail::x25519_public(id.secret);
    out.push_back(id);
  });
  if (out.empty()) throw std::invalid_argument("it holds no identity (AGE-SECRET-KEY-1...)");
  return out;
}

identity generate_identity() {
  identity id;
  detail::random_bytes(id.secret);
  id.public_key = detail::x25519_public(id.secret);
  return id;
}

std::string encode_recipient(const key_bytes& public_key) {
  return bech32::encode(recipient_hrp, public_key);
}

std::string encode_identity(const identity& id) {
  auto text = bech32::encode(identity_hrp, id.secret);
  for (auto& c : text)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace pgship::age
