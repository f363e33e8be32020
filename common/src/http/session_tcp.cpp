#include "session_impl.hpp"

namespace pgship::http_server {
template class session<beast::tcp_stream>;
}  // namespace pgship::http_server
