#pragma once
// A TCP proxy on 127.0.0.1 for integration tests: forwards each connection to an upstream port
// and, on request, cuts connections after an exact number of client->upstream bytes.

#include <cstdint>
#include <memory>

namespace pgship::test {

/// Listens on 127.0.0.1:<port()> and relays every connection to 127.0.0.1:<upstream_port> on a
/// background thread. An end-of-stream from one side is passed on as a half-close, so each
/// direction runs until its own sender finishes; a reset on either side drops both.
class fault_proxy {
 public:
  /// Binds and starts relaying before returning, so port() is usable at once.
  explicit fault_proxy(unsigned short upstream_port);
  /// Stops the thread; connections still open are dropped.
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  unsigned short port() const;

  /// The next `connections` accepted connections are cut (both sockets shut down and closed)
  /// as soon as exactly `bytes` client->upstream bytes have gone through; later ones pass
  /// untouched. A connection is assigned its fate when accepted, so one whose client leaves
  /// early still uses up its turn. Replaces any plan not yet used up; callable from any thread.
  void cut_after(std::uint64_t bytes, int connections);

  /// Cuts every connection relayed now (both sockets shut down and closed), as a network
  /// failure would mid-stream; returns how many. Callable from any thread.
  int cut_open();

  /// From now on, each connection's upstream->client bytes go at most `bytes_per_second`
  /// (0: unlimited), as over a slow link: a download then takes a known time whatever the
  /// machine's speed. Callable from any thread.
  void throttle_to_client(std::uint64_t bytes_per_second);

  /// Client->upstream bytes written upstream, over all connections.
  std::uint64_t bytes_to_upstream() const;
  int connections_accepted() const;
  /// Connections cut by a cut_after plan or by cut_open; counted before their sockets close.
  int connections_cut() const;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace pgship::test
