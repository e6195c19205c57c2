// RESP2 encoding/decoding and the Redis phase runner (see redis_client.h).
#include "redis_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <memory>
#include <stdexcept>

#include "engine_process.h"
#include "phase_result.h"

namespace litestash::bench {

namespace {

void Bulk(std::string& out, std::string_view s) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, s.size());
  out += '$';
  out.append(buf, p);
  out += "\r\n";
  out.append(s.data(), s.size());
  out += "\r\n";
}

void ArrayHeader(std::string& out, size_t n) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out += '*';
  out.append(buf, p);
  out += "\r\n";
}

// Finds "\r\n" at or after `pos`; npos when the line is incomplete.
size_t LineEnd(const char* d, size_t len, size_t pos) {
  for (size_t i = pos; i + 1 < len; ++i) {
    if (d[i] == '\r' && d[i + 1] == '\n') return i;
  }
  return std::string::npos;
}

int64_t ParseInt(const char* b, const char* e) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) throw std::runtime_error("bad RESP integer");
  return v;
}

// Parses one reply starting at `pos`. Returns the position after it, or npos if incomplete.
// Counts nil bulk strings / nil array items / ":0" into `misses`, sets `error` on "-ERR".
size_t ParseReply(const char* d, size_t len, size_t pos, uint32_t& misses, std::string& error, int depth = 0) {
  if (pos >= len) return std::string::npos;
  size_t eol = LineEnd(d, len, pos + 1);
  if (eol == std::string::npos) return std::string::npos;
  const char type = d[pos];
  const char* b = d + pos + 1;
  const char* e = d + eol;
  size_t next = eol + 2;
  switch (type) {
    case '+': return next;
    case '-': error.assign(b, e); return next;
    case ':': if (ParseInt(b, e) == 0 && depth == 0) ++misses; return next;
    case '$': {
      int64_t n = ParseInt(b, e);
      if (n < 0) { ++misses; return next; }
      if (len < next + static_cast<size_t>(n) + 2) return std::string::npos;
      return next + static_cast<size_t>(n) + 2;
    }
    case '*': {
      int64_t n = ParseInt(b, e);
      for (int64_t i = 0; i < n; ++i) {
        next = ParseReply(d, len, next, misses, error, depth + 1);
        if (next == std::string::npos) return next;
      }
      return next;
    }
    default: throw std::runtime_error(std::string("bad RESP type byte 0x") + std::to_string(static_cast<unsigned char>(type)));
  }
}

}  // namespace

int ConnectTcp(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    close(fd);
    throw std::runtime_error("bad IPv4 address " + host);
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    close(fd);
    throw std::runtime_error("connect " + host + ":" + std::to_string(port) + ": " + strerror(err));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool ParseRedisStreamId(std::string_view text, RedisStreamId& out) {
  auto dash = text.find('-');
  if (dash == std::string_view::npos) return false;
  auto a = std::from_chars(text.data(), text.data() + dash, out.ms);
  auto b = std::from_chars(text.data() + dash + 1, text.data() + text.size(), out.seq);
  return a.ec == std::errc() && a.ptr == text.data() + dash && b.ec == std::errc() &&
         b.ptr == text.data() + text.size();
}

std::string FormatRedisStreamId(const RedisStreamId& id) {
  return std::to_string(id.ms) + "-" + std::to_string(id.seq);
}

RedisProtocol::RedisProtocol(const PhaseSpec& spec, uint64_t key_count, uint64_t seed, std::string raw_value,
                             RedisStreamIds* ids)
    : stream_(spec, key_count, seed), value_(std::move(raw_value)), op_kind_(spec.op), batch_(spec.batch),
      streams_(spec.streams) {
  if (spec.op == OpKind::kVersions || !spec.at.empty()) {
    throw std::runtime_error("Redis keeps no versions (op=versions and at=first are engine-only)");
  }
  if (!IsStreamOp(spec.op)) return;
  if (!ids) throw std::runtime_error("stream phase without a stream id log");
  stream_names_.resize(spec.streams);
  for (uint32_t i = 0; i < spec.streams; ++i) {
    StreamName(spec.stream, i, stream_names_[i]);
    std::vector<RedisStreamId>& v = (*ids)[stream_names_[i]];
    if (spec.op == OpKind::kXadd) {
      v.reserve(v.size() + spec.requests / spec.streams + 1);
    } else if (v.size() < key_count) {
      throw std::runtime_error("xrange on stream " + stream_names_[i] + " needs " + std::to_string(key_count) +
                               " entries added by an earlier xadd phase of this run, has " +
                               std::to_string(v.size()));
    }
    stream_ids_.push_back(&v);
  }
}

void RedisProtocol::Encode(uint64_t, std::string& out) {
  stream_.Next(op_);
  switch (op_.kind) {
    case OpKind::kXadd:
      ArrayHeader(out, 5); Bulk(out, "XADD"); Bulk(out, stream_names_[op_.stream]); Bulk(out, "*");
      Bulk(out, "v"); Bulk(out, value_);
      break;
    case OpKind::kXrange: {
      const uint64_t p = op_.keys[0];
      if (p == 0) {
        key_ = "-";
      } else {
        key_ = "(";
        key_ += FormatRedisStreamId((*stream_ids_[op_.stream])[p - 1]);
      }
      char count[16];
      auto [end, ec] = std::to_chars(count, count + sizeof count, batch_);
      ArrayHeader(out, 6); Bulk(out, "XRANGE"); Bulk(out, stream_names_[op_.stream]); Bulk(out, key_);
      Bulk(out, "+"); Bulk(out, "COUNT"); Bulk(out, std::string_view(count, static_cast<size_t>(end - count)));
      break;
    }
    case OpKind::kSet:
      ArrayHeader(out, 3); Bulk(out, "SET"); KeyName(op_.keys[0], key_); Bulk(out, key_); Bulk(out, value_);
      break;
    case OpKind::kGet:
      ArrayHeader(out, 2); Bulk(out, "GET"); KeyName(op_.keys[0], key_); Bulk(out, key_);
      break;
    case OpKind::kDelete:
      ArrayHeader(out, 2); Bulk(out, "DEL"); KeyName(op_.keys[0], key_); Bulk(out, key_);
      break;
    case OpKind::kMget:
      ArrayHeader(out, 1 + op_.keys.size()); Bulk(out, "MGET");
      for (uint64_t k : op_.keys) { KeyName(k, key_); Bulk(out, key_); }
      break;
    case OpKind::kMset:
      ArrayHeader(out, 1 + 2 * op_.keys.size()); Bulk(out, "MSET");
      for (uint64_t k : op_.keys) { KeyName(k, key_); Bulk(out, key_); Bulk(out, value_); }
      break;
    case OpKind::kTxn:  // MULTI, one SET per key, EXEC: only EXEC's reply is the answer
      ArrayHeader(out, 1); Bulk(out, "MULTI");
      for (uint64_t k : op_.keys) {
        ArrayHeader(out, 3); Bulk(out, "SET"); KeyName(k, key_); Bulk(out, key_); Bulk(out, value_);
      }
      ArrayHeader(out, 1); Bulk(out, "EXEC");
      break;
    case OpKind::kMixed:
    case OpKind::kVersions: break;  // resolved by OpStream / refused by the constructor
  }
}

size_t RedisProtocol::Decode(const char* data, size_t len, std::vector<Answer>& answers) {
  size_t pos = 0;
  while (pos < len) {
    uint32_t misses = 0;
    std::string error;
    size_t next = ParseReply(data, len, pos, misses, error);
    if (next == std::string::npos) break;
    if (op_kind_ == OpKind::kTxn && data[pos] == '+') {  // MULTI's +OK, each SET's +QUEUED
      pos = next;
      continue;
    }
    Answer a;
    a.seq = next_answer_++;
    a.ok = error.empty();
    a.error = error;
    a.misses = misses;
    if (a.ok && op_kind_ == OpKind::kXadd && data[pos] == '$') {
      // "$<n>\r\n<ms>-<seq>\r\n": record the id for later xrange phases.
      const size_t body = LineEnd(data, len, pos + 1) + 2;
      RedisStreamId id;
      if (!ParseRedisStreamId(std::string_view(data + body, next - 2 - body), id)) {
        throw std::runtime_error("XADD reply is not a stream id");
      }
      stream_ids_[a.seq % streams_]->push_back(id);
    } else if (a.ok && op_kind_ == OpKind::kXrange && data[pos] == '*') {
      const int64_t n = ParseInt(data + pos + 1, data + LineEnd(data, len, pos + 1));
      a.items = static_cast<uint32_t>(n > 0 ? n : 0);
      if (a.items < batch_) a.misses += batch_ - a.items;
    }
    answers.push_back(std::move(a));
    pos = next;
  }
  return pos;
}

std::string RedisCommand(int fd, const std::vector<std::string>& args) {
  RedisSend(fd, args);
  return RedisReadReply(fd);
}

void RedisSend(int fd, const std::vector<std::string>& args) {
  std::string out;
  ArrayHeader(out, args.size());
  for (const auto& a : args) Bulk(out, a);
  if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) throw std::runtime_error("redis write");
}

std::string RedisReadReply(int fd) {
  std::string in;
  char buf[65536];
  while (true) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) throw std::runtime_error("redis closed the connection");
    in.append(buf, static_cast<size_t>(r));
    uint32_t misses = 0;
    std::string err;
    size_t end = ParseReply(in.data(), in.size(), 0, misses, err);
    if (end != std::string::npos) return in.substr(0, end);
  }
}

int RunRedisBench(const RedisBenchConfig& cfg, JsonWriter& w) {
  const std::string value = MakeRawValue(cfg.value_size);
  int fd = -1;
  std::string failure;
  w.BeginObject();
  w.Field("mode", "redis");
  w.Field("port", cfg.port);
  w.Field("keys", cfg.keys);
  w.Field("value_size", static_cast<uint64_t>(cfg.value_size));
  try {
    fd = ConnectTcp(cfg.host, cfg.port);
  } catch (const std::exception& e) {
    w.Field("ok", false);
    w.Field("error", e.what());
    w.EndObject();
    return 1;
  }
  w.Key("phases");
  w.BeginObject();
  RedisStreamIds stream_ids;
  for (size_t i = 0; i < cfg.phases.size(); ++i) {
    const PhaseSpec& spec = cfg.phases[i];
    std::unique_ptr<RedisProtocol> owned;
    try {
      owned = std::make_unique<RedisProtocol>(spec, cfg.keys, 1000 + i, value, &stream_ids);
    } catch (const std::exception& e) {
      failure = "phase " + spec.name + ": " + e.what();
      break;
    }
    RedisProtocol& proto = *owned;
    PhaseResult r;
    const double cpu0 = cfg.server_pid > 0 ? ProcCpuSeconds(cfg.server_pid) : -1;
    RunPipeline(fd, fd, proto, spec, r, cfg.stall_timeout_s);
    const double cpu1 = cfg.server_pid > 0 ? ProcCpuSeconds(cfg.server_pid) : -1;
    if (cpu0 >= 0 && cpu1 >= 0) r.target_cpu_s = cpu1 - cpu0;
    r.Summarize();
    r.Log("redis");
    w.Key(spec.name);
    r.WriteJson(w);
    if (r.broken) {
      failure = "phase " + spec.name + ": " + r.broken_reason;
      break;
    }
  }
  w.EndObject();
  close(fd);
  w.Field("ok", failure.empty());
  if (!failure.empty()) w.Field("error", failure);
  w.EndObject();
  return failure.empty() ? 0 : 3;
}

}  // namespace litestash::bench
