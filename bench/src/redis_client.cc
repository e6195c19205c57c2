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

RedisProtocol::RedisProtocol(const PhaseSpec& spec, uint64_t key_count, uint64_t seed, std::string raw_value)
    : stream_(spec, key_count, seed), value_(std::move(raw_value)) {}

void RedisProtocol::Encode(uint64_t, std::string& out) {
  stream_.Next(op_);
  switch (op_.kind) {
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
    case OpKind::kMixed: break;
  }
}

size_t RedisProtocol::Decode(const char* data, size_t len, std::vector<Answer>& answers) {
  size_t pos = 0;
  while (pos < len) {
    uint32_t misses = 0;
    std::string error;
    size_t next = ParseReply(data, len, pos, misses, error);
    if (next == std::string::npos) break;
    Answer a;
    a.seq = next_answer_++;
    a.ok = error.empty();
    a.error = error;
    a.misses = misses;
    answers.push_back(std::move(a));
    pos = next;
  }
  return pos;
}

std::string RedisCommand(int fd, const std::vector<std::string>& args) {
  std::string out;
  ArrayHeader(out, args.size());
  for (const auto& a : args) Bulk(out, a);
  if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) throw std::runtime_error("redis write");
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
  for (size_t i = 0; i < cfg.phases.size(); ++i) {
    const PhaseSpec& spec = cfg.phases[i];
    RedisProtocol proto(spec, cfg.keys, 1000 + i, value);
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
