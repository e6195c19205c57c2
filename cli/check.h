// CheckDataDir(): `litestash-cli check`, an offline look at a data dir with SQLite itself (no
// engine is started; running engines may keep serving, the files are opened read-only; a file
// with no -wal beside it is opened as immutable so the check creates no -wal/-shm files).
//
// For every shard file shard-NN.db, NN = 0 .. shard count - 1 (the count is --shards, else
// shard-00.db's meta.shard_count), it reports a problem when:
//   - the file is missing, cannot be opened, or is not a database;
//   - PRAGMA integrity_check does not answer "ok";
//   - meta is missing, or its shard_index / shard_count disagree with the file's place;
//   - layout_version is unknown (newer than kKnownLayout) or differs between the files;
//   - a stash row's key_hash is not the BLAKE2b-512 of its key, or the key routes to another
//     shard (first 8 digest bytes big-endian, modulo the count: the engine's routing), and
//     likewise every history row's key and every stream's name;
//   - an expiry row has no stash row.
// One line per shard goes to `out`, every problem to `out` too, a summary at the end. Returns
// kExitOk, or kExitCheckFailed when anything was found.
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace litestash::cli {

inline constexpr int kKnownLayout = 3;

int CheckDataDir(const std::string& data_dir, std::optional<uint32_t> shards, std::ostream& out);

}  // namespace litestash::cli
