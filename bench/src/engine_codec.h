// The engine's wire format as the load generator speaks it (contract protocol-v1 sections 1-2):
// 4-byte big-endian length + one MessagePack map per frame.
//
// Contract:
// - Append*() append one complete frame to `out`. Values are passed as ready MessagePack bytes
//   and are copied in verbatim (the engine stores them byte for byte). No `shard` field is sent.
// - ScanAnswer() reads only what the driver needs from an answer body, without allocating:
//   `id`, `ok`, `error.code`, `found` (bool, or the count of false items when it is an array, as
//   in mget), `deleted` (bool), the length of an `entries` array (xrange/xread), `entry_id`
//   (xadd), `version` (set, get) and the length of a `versions` array (versions). It returns
//   false when the body is not a single MessagePack map.
// - ObjectToJson() renders a decoded answer (hello, stats) as JSON for the report; bin/ext are
//   written as {"bin": <size>} since only their size matters there.
// - EngineProtocol adapts an OpStream to PipelineProtocol with wire id = id_base + seq. An
//   xrange answer's entries are counted (Answer::items); each one short of `batch` is a miss.
//   A `versions` answer with no version is a miss. With a VersionLog, a set phase with dist=seq
//   records the version each key's first answered set got, and a get phase with at=first sends
//   that version (its constructor throws std::runtime_error when the log lacks a key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "pipeline_driver.h"
#include "workload.h"

namespace litestash::bench {

void AppendSimple(std::string& out, uint64_t id, std::string_view op);  // hello, stats, sync, ...
void AppendSet(std::string& out, uint64_t id, std::string_view key, std::string_view value_msgpack);
void AppendGet(std::string& out, uint64_t id, std::string_view key);
void AppendGetAt(std::string& out, uint64_t id, std::string_view key, uint64_t version);  // get {key, version}
void AppendVersions(std::string& out, uint64_t id, std::string_view key);  // versions {key}, default limit
void AppendDelete(std::string& out, uint64_t id, std::string_view key);
void AppendMget(std::string& out, uint64_t id, const std::vector<std::string>& keys);
void AppendMset(std::string& out, uint64_t id, const std::vector<std::string>& keys,
                std::string_view value_msgpack);
// Stream ops (protocol section 4 "Streams").
void AppendXadd(std::string& out, uint64_t id, std::string_view stream, std::string_view value_msgpack);
void AppendXrange(std::string& out, uint64_t id, std::string_view stream, uint64_t after, uint32_t limit);
// xread {stream, after, limit, wait_ms}; wait_ms 0 is sent as is (answer at once).
void AppendXread(std::string& out, uint64_t id, std::string_view stream, uint64_t after, uint32_t limit,
                 uint64_t wait_ms);
void AppendXinfo(std::string& out, uint64_t id, std::string_view stream);

struct AnswerSummary {
  bool has_id = false;
  uint64_t id = 0;
  bool ok = false;
  int found = -1;           // -1 absent, 0/1 for a bool
  uint32_t found_false = 0; // false items of a `found` array
  int deleted = -1;
  int64_t entries = -1;     // length of the `entries` array, -1 when absent
  int64_t entry_id = -1;    // `entry_id` (xadd), -1 when absent
  int64_t version = -1;     // `version` (set, get), -1 when absent
  int64_t versions = -1;    // length of the `versions` array (versions), -1 when absent
  std::string error_code;
};

bool ScanAnswer(const char* body, size_t len, AnswerSummary& out);

// Full decode of one body (for the few non-hot-path answers).
msgpack::object_handle DecodeBody(const std::string& body);
std::string ObjectToJson(const msgpack::object& o);
// Looks up a str key in a map object; nullptr when absent or `o` is not a map.
const msgpack::object* MapGet(const msgpack::object& o, std::string_view key);

// Per run: the version each key index got from the first seq set phase (0 = none yet). Written
// by the reader thread of a set phase, read by the writer thread of a later phase.
struct VersionLog {
  std::vector<uint64_t> first;
  uint64_t recorded = 0;  // keys with a version
};

class EngineProtocol : public PipelineProtocol {
 public:
  EngineProtocol(const PhaseSpec& spec, uint64_t key_count, uint64_t seed, uint64_t id_base,
                 std::string value_msgpack, VersionLog* versions = nullptr);
  void Encode(uint64_t seq, std::string& out) override;
  size_t Decode(const char* data, size_t len, std::vector<Answer>& answers) override;

 private:
  OpStream stream_;
  Op op_;
  uint64_t id_base_;
  std::string value_;
  std::vector<std::string> keys_;
  std::vector<std::string> stream_names_;  // "<stream>:<i>", built once
  OpKind op_kind_;
  uint32_t batch_;
  VersionLog* versions_;
  bool record_versions_ = false;  // seq set phase: fill versions_
  bool get_at_first_ = false;     // get at=first: read versions_
  uint64_t key_count_;
  uint64_t seq_from_;
};

}  // namespace litestash::bench
