// The two export formats of litestash-cli (see dump.h for what goes in them): records <-> bytes.
//
// jsonl: one JSON object per line: {"key", "value", "mp"?, "expires_at_ms"?} per key, then
//        {"stream", "first_id", "maxlen"?, "max_age_ms"?, "groups"?, "entries", "entries_mp"?}
//        per stream ("entries_mp" holds the exact hex of each entry whose JSON is lossy, null
//        for the others).
// raw:   frames (4-byte big-endian length + one MessagePack map): the header {"format":
//        "litestash-export", "version": 1, "keys": N}, then {"key", "value", "expires_at_ms"?,
//        "history"?} per key and {"stream", "first_id", "maxlen"?, "max_age_ms"?, "groups"?,
//        "entries"} per stream, values as their exact bytes.
// DecodeDump() tells the formats apart by the first byte ('{' is jsonl) and reports the line or
// frame of the first problem.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace litestash::cli {

struct KeyRecord {
  std::string key;
  std::string value;  // exact MessagePack bytes
  std::optional<uint64_t> expires_at_ms;
  std::vector<std::pair<bool, std::string>> history;  // oldest first: deleted, value bytes
};

struct StreamRecord {
  std::string name;
  uint64_t first_id = 1;  // id of the first entry (last_id + 1 when empty)
  std::optional<uint64_t> maxlen, max_age_ms;
  std::vector<std::pair<std::string, uint64_t>> groups;  // committed offsets
  std::vector<std::string> values;                       // exact bytes, ids first_id, ...
};

struct DumpContents {
  std::vector<KeyRecord> keys;
  std::vector<StreamRecord> streams;
};

std::string EncodeHeader(bool raw, uint64_t keys);  // "" for jsonl
std::string EncodeKey(const KeyRecord& r, bool raw);
std::string EncodeStream(const StreamRecord& r, bool raw);
Result<DumpContents> DecodeDump(const std::string& data);

}  // namespace litestash::cli
