#pragma once
// api/status_page.html, built into the binary (CMake writes status_page.cpp from it): the page
// needs no file beside the receiver and cannot drift from the build.

#include <string_view>

namespace pgship::receiver {

std::string_view status_page_html();

}  // namespace pgship::receiver
