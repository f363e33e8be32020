#pragma once
// A long list of findings in one message line: the first few, then how many more.

#include <algorithm>
#include <string>
#include <vector>

namespace pgship {

/// "a; b; c; d; e; and 7 more".
inline std::string first_few(const std::vector<std::string>& all, std::size_t shown = 5) {
  std::string text;
  shown = std::min(all.size(), shown);
  for (std::size_t i = 0; i < shown; ++i)
    text += (i == 0 ? "" : "; ") + all[i];
  if (all.size() > shown) text += "; and " + std::to_string(all.size() - shown) + " more";
  return text;
}

}  // namespace pgship
