#pragma once
// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate signed by it,
// made with the openssl command line, for TLS and mutual-TLS tests.

#include <filesystem>
#include <string>

namespace pgship::test {

struct test_pki {
  /// Writes ca.crt/key, server.crt/key and client.crt/key into `where`. Throws on failure.
  explicit test_pki(const std::filesystem::path& where);
  std::string path(const char* name) const { return (dir / name).string(); }
  std::filesystem::path dir;
};

}  // namespace pgship::test
