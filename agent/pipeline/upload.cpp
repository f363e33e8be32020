#include "pipeline/upload.hpp"

namespace pgship::agent {

namespace net = boost::asio;

net::awaitable<bool> sleep_unless_stopped(std::chrono::milliseconds delay, run_control& control) {
  // Named first: GCC 12 destroys temporaries inside a co_await full-expression twice.
  const std::function<bool()> stopping = [&control] { return control.stopping(); };
  co_return co_await sleep_unless(delay, stopping);
}

net::awaitable<stage_error> run_upload(http_client& client, const upload_request& request,
                                       run_control& control, upload_output& out) {
  upload_watch watch;
  watch.stopping = [&control] { return control.stopping(); };
  watch.sent = [&control](std::size_t n) { control.progress.bytes += n; };
  co_return co_await tus_upload_file(client, request, watch, out);
}

}  // namespace pgship::agent
