#include "test_pki.hpp"
#include <stdexcept>
#include <vector>

#include "process.hpp"
#include "temp_dir.hpp"

namespace pgship::test {

test_pki::test_pki(const std::filesystem::path& where) : dir(where) {
  const auto ossl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = run_process(args, {.cwd = dir});
    if (!r.ok()) throw std::runtime_error("openssl failed: " + r.describe());
  };
  ossl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=pgship test CA", "-keyout", "ca.key", "-out", "ca.crt"});
  write_file(dir / "server.ext", "subjectAltName=IP:127.0.0.1\n");
  ossl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr"});
  ossl({"x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "server.ext", "-out", "server.crt"});
  ossl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=agent", "-keyout", "client.key",
        "-out", "client.csr"});
  ossl({"x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-out", "client.crt"});
}

}  // namespace pgship::test
