#pragma once
// QUOTA_BYTES across uploads running at once: each holds the bytes it will store, so that
// together they cannot take a client over its quota. Stored bytes come from the storage's
// usage() plus its physical archive's (WAL units count like any upload); a commit counts its bytes
// there before its upload releases the hold, so a backup is never counted zero times (for a moment
// it may count twice: the safe side). Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "storage/storage.hpp"
#include "storage/wal_store.hpp"

namespace pgship::receiver {

class quota_ledger {
 public:
  /// `wal` is the store's physical archive (nullptr when it keeps none).
  quota_ledger(const storage& store, const wal_store* wal) : store_(store), wal_(wal) {}

  /// Holds `bytes` for the upload `key` (its spool file or tus id): false, and nothing held,
  /// when the client's stored bytes plus all it holds would exceed `quota`. Holding again
  /// under a key raises its amount, never lowers it.
  bool hold(const std::string& key, const std::string& client, std::uint64_t bytes,
            std::optional<std::uint64_t> quota);
  /// Ends the hold under `key` (no-op when there is none).
  void release(const std::string& key);
  /// What `client` may still store under `quota`: the quota less its stored bytes and all it
  /// holds (0 when over).
  std::uint64_t left(const std::string& client, std::uint64_t quota);

 private:
  const storage& store_;
  const wal_store* wal_;
  std::mutex mutex_;
  struct held_bytes {
    std::string client;
    std::uint64_t bytes = 0;
  };
  std::map<std::string, held_bytes> held_;

  // The client's stored bytes plus what it holds, but for `except_key`; under mutex_.
  std::uint64_t used(const std::string& client, const usage_map& stored,
                     const std::string& except_key) const;
};

}  // namespace pgship::receiver
