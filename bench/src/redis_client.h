// Anchor (b): a pipelined RESP2 client for Redis, driven by the same writer/reader pipeline and
// the same op streams as the engine, so both see identical keys, values and depths.
//
// Contract:
// - ConnectTcp() opens a TCP connection with TCP_NODELAY; throws on failure.
// - RedisProtocol encodes set/get/mget/mset/delete as SET/GET/MGET/MSET/DEL with the raw
//   value bytes (no MessagePack framing: Redis stores plain strings); answers are matched to
//   requests by order. A nil bulk reply (GET miss), nil items of an MGET array and DEL :0 count
//   as misses; an error reply counts as an error. txn is MULTI, one SET per key, EXEC (only
//   EXEC's reply is the answer). op=versions and at=first have no Redis form: the protocol's
//   constructor throws std::runtime_error.
// - Stream ops: xadd is `XADD <name> * v <value>`; the id each reply carries is recorded, per
//   stream name, in the run's RedisStreamIds (so a later xrange phase can start at the p-th
//   entry). xrange is `XRANGE <name> (<id of entry p> + COUNT <batch>` (`-` for p = 0); the
//   entries of each reply are counted, each one short of `batch` is a miss. An xrange phase on a
//   stream with fewer recorded ids than the run's --keys cannot start (std::runtime_error).
// - RedisCommand() sends one command and returns its reply as text (used for INFO/FLUSHALL);
//   RedisSend() / RedisReadReply() are its two halves (a reply that blocks, like XREAD BLOCK).
// - RunRedisBench() writes one JSON object with a result per phase; exit code as engine_bench.h.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "json_writer.h"
#include "pipeline_driver.h"
#include "workload.h"

namespace litestash::bench {

int ConnectTcp(const std::string& host, int port);

// A Redis stream entry id "<ms>-<seq>".
struct RedisStreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
};
// Ids of the entries added by the xadd phases of a run, by stream name, in order.
using RedisStreamIds = std::unordered_map<std::string, std::vector<RedisStreamId>>;
bool ParseRedisStreamId(std::string_view text, RedisStreamId& out);
std::string FormatRedisStreamId(const RedisStreamId& id);

class RedisProtocol : public PipelineProtocol {
 public:
  // `ids` may be null when the phase has no stream op.
  RedisProtocol(const PhaseSpec& spec, uint64_t key_count, uint64_t seed, std::string raw_value,
                RedisStreamIds* ids = nullptr);
  void Encode(uint64_t seq, std::string& out) override;
  size_t Decode(const char* data, size_t len, std::vector<Answer>& answers) override;

 private:
  OpStream stream_;
  Op op_;
  std::string value_;
  std::string key_;
  uint64_t next_answer_ = 0;
  OpKind op_kind_;
  uint32_t batch_;
  uint32_t streams_;
  std::vector<std::string> stream_names_;
  std::vector<std::vector<RedisStreamId>*> stream_ids_;  // by stream index (into the run's map)
};

std::string RedisCommand(int fd, const std::vector<std::string>& args);
void RedisSend(int fd, const std::vector<std::string>& args);
std::string RedisReadReply(int fd);

struct RedisBenchConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  uint64_t keys = 1000000;
  size_t value_size = 100;
  std::vector<PhaseSpec> phases;
  double stall_timeout_s = 120;
  int server_pid = 0;  // when given, the server's CPU time is sampled around each phase
};

int RunRedisBench(const RedisBenchConfig& cfg, JsonWriter& w);

}  // namespace litestash::bench
