// Anchor (b): a pipelined RESP2 client for Redis, driven by the same writer/reader pipeline and
// the same op streams as the engine, so both see identical keys, values and depths.
//
// Contract:
// - ConnectTcp() opens a TCP connection with TCP_NODELAY; throws on failure.
// - RedisProtocol encodes set/get/mget/mset/delete as SET/GET/MGET/MSET/DEL with the raw
//   value bytes (no MessagePack framing: Redis stores plain strings); answers are matched to
//   requests by order. A nil bulk reply (GET miss), nil items of an MGET array and DEL :0 count
//   as misses; an error reply counts as an error.
// - RedisCommand() sends one command and returns its reply as text (used for INFO/FLUSHALL).
// - RunRedisBench() writes one JSON object with a result per phase; exit code as engine_bench.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "json_writer.h"
#include "pipeline_driver.h"
#include "workload.h"

namespace litestash::bench {

int ConnectTcp(const std::string& host, int port);

class RedisProtocol : public PipelineProtocol {
 public:
  RedisProtocol(const PhaseSpec& spec, uint64_t key_count, uint64_t seed, std::string raw_value);
  void Encode(uint64_t seq, std::string& out) override;
  size_t Decode(const char* data, size_t len, std::vector<Answer>& answers) override;

 private:
  OpStream stream_;
  Op op_;
  std::string value_;
  std::string key_;
  uint64_t next_answer_ = 0;
};

std::string RedisCommand(int fd, const std::vector<std::string>& args);

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
