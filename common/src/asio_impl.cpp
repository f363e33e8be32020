// The one translation unit that compiles Asio, Beast and Boost.Process v2. Every other file
// sees them with *_SEPARATE_COMPILATION (set on the pgship_asio target), which keeps their
// implementation out of each object file and the clean build short.

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/process/v2/src.hpp>
