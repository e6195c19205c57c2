// Blocking-read wake-up latency on the engine (same process / another process) and Redis
// (see wakeup_bench.h).
#include "wakeup_bench.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>

#include "engine_codec.h"
#include "pipeline_driver.h"
#include "redis_client.h"
#include "workload.h"

namespace litestash::bench {

namespace {

constexpr uint64_t kWaitMs = 60000;  // the protocol's largest wait_ms
const char* const kStream = "wake:0";

struct ModeResult {
  std::vector<uint64_t> wake_ns;  // xadd sent -> xread answer read
  std::vector<uint64_t> add_ns;   // xadd sent -> xadd answer read (engine modes)
  uint64_t errors = 0;
  uint64_t not_parked = 0;
  std::string first_error;

  void Error(const std::string& why) {
    ++errors;
    if (first_error.empty()) first_error = why;
  }
};

void WriteAllFd(int fd, const std::string& buf) {
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t w = ::write(fd, buf.data() + off, buf.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw std::runtime_error(std::string("write to engine: ") + strerror(errno));
    off += static_cast<size_t>(w);
  }
}

// Buffered reader of one engine's answer frames.
class FrameReader {
 public:
  explicit FrameReader(int fd) : fd_(fd) {}
  int fd() const { return fd_; }

  // Next complete frame body already buffered, if any.
  bool Pop(std::string& body) {
    if (buf_.size() - off_ < 4) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + off_);
    uint32_t n = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    if (buf_.size() - off_ - 4 < n) return false;
    body.assign(buf_, off_ + 4, n);
    off_ += 4 + n;
    if (off_ == buf_.size()) { buf_.clear(); off_ = 0; }
    return true;
  }

  // One read() after poll reported the fd readable.
  void ReadSome() {
    char chunk[65536];
    ssize_t r;
    do { r = ::read(fd_, chunk, sizeof chunk); } while (r < 0 && errno == EINTR);
    if (r == 0) throw std::runtime_error("engine closed stdout (exited?)");
    if (r < 0) throw std::runtime_error(std::string("read from engine: ") + strerror(errno));
    if (off_ > 0) { buf_.erase(0, off_); off_ = 0; }
    buf_.append(chunk, static_cast<size_t>(r));
  }

 private:
  int fd_;
  std::string buf_;
  size_t off_ = 0;
};

struct Arrived {
  uint64_t at_ns = 0;
  std::string body;
};

// Reads answers from `readers` until every id in `want` has arrived (or throws on timeout/EOF).
// Arrival time is taken right after the read() that completed the frame.
void WaitFor(std::vector<FrameReader*> readers, std::vector<std::pair<uint64_t, Arrived*>> want, double timeout_s,
             const std::function<void(uint64_t id)>& on_other = nullptr) {
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(timeout_s * 1e9);
  size_t missing = want.size();
  auto drain = [&](FrameReader& r, uint64_t now) {
    std::string body;
    AnswerSummary s;
    while (r.Pop(body)) {
      if (!ScanAnswer(body.data(), body.size(), s) || !s.has_id) {
        throw std::runtime_error("answer without id (error " + s.error_code + ")");
      }
      bool matched = false;
      for (auto& [id, slot] : want) {
        if (id == s.id && slot->at_ns == 0) {
          slot->at_ns = now;
          slot->body = std::move(body);
          --missing;
          matched = true;
          break;
        }
      }
      if (!matched && on_other) on_other(s.id);
    }
  };
  for (FrameReader* r : readers) drain(*r, MonotonicNs());
  while (missing > 0) {
    const uint64_t now = MonotonicNs();
    if (now >= deadline) throw std::runtime_error("no answer within " + std::to_string(timeout_s) + " s");
    pollfd p[2];
    for (size_t i = 0; i < readers.size(); ++i) p[i] = pollfd{readers[i]->fd(), POLLIN, 0};
    int pr = ::poll(p, static_cast<nfds_t>(readers.size()), static_cast<int>((deadline - now) / 1000000 + 1));
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) throw std::runtime_error(std::string("poll: ") + strerror(errno));
    for (size_t i = 0; i < readers.size(); ++i) {
      if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        readers[i]->ReadSome();
        drain(*readers[i], MonotonicNs());
      }
    }
  }
}

// Entry ids of an xread/xrange answer's `entries`; throws when the answer is an error.
std::vector<uint64_t> EntryIds(const std::string& body) {
  auto oh = DecodeBody(body);
  const msgpack::object& o = oh.get();
  const msgpack::object* ok = MapGet(o, "ok");
  if (!ok || ok->type != msgpack::type::BOOLEAN || !ok->via.boolean) {
    const msgpack::object* err = MapGet(o, "error");
    throw std::runtime_error("xread failed: " + (err ? ObjectToJson(*err) : std::string("?")));
  }
  std::vector<uint64_t> ids;
  const msgpack::object* e = MapGet(o, "entries");
  if (e && e->type == msgpack::type::ARRAY) {
    for (uint32_t i = 0; i < e->via.array.size; ++i) {
      const msgpack::object& item = e->via.array.ptr[i];
      if (item.type == msgpack::type::ARRAY && item.via.array.size >= 1 &&
          item.via.array.ptr[0].type == msgpack::type::POSITIVE_INTEGER) {
        ids.push_back(item.via.array.ptr[0].via.u64);
      }
    }
  }
  return ids;
}

uint64_t XaddCall(EngineProcess& p, uint64_t id, const std::string& value) {
  std::string frame;
  AppendXadd(frame, id, kStream, value);
  std::string body = p.Call(frame, 30);
  AnswerSummary s;
  if (!ScanAnswer(body.data(), body.size(), s) || !s.ok || s.entry_id < 1) {
    throw std::runtime_error("first xadd failed: " + (s.error_code.empty() ? std::string("?") : s.error_code));
  }
  return static_cast<uint64_t>(s.entry_id);
}

void Hello(EngineProcess& p, uint64_t id) {
  std::string frame;
  AppendSimple(frame, id, "hello");
  p.Call(frame, 30);
}

class Settle {
 public:
  Settle(double min_ms, double max_ms) : dist_(min_ms, std::max(min_ms, max_ms)) {}
  void Pause() {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(dist_(rng_)));
  }

 private:
  std::mt19937_64 rng_{42};
  std::uniform_real_distribution<double> dist_;
};

// Mode "same" or "other" on a fresh data dir. Throws on a crash or a stuck round.
ModeResult RunEngineMode(const WakeupConfig& cfg, bool other, std::string& log_tail) {
  ModeResult res;
  TempDir tmp(cfg.tmp_root);
  const std::string data_dir = tmp.path() + "/data";
  const std::string value = MakeMsgpackBinValue(MakeRawValue(cfg.value_size));
  EngineProcess a(cfg.engine, data_dir, tmp.path() + "/engine-a.log");
  std::unique_ptr<EngineProcess> b;
  try {
    uint64_t next_id = 1;
    Hello(a, next_id++);
    uint64_t last = XaddCall(a, next_id++, value);  // creates the stream (and the shard file)
    if (other) {
      b = std::make_unique<EngineProcess>(cfg.engine, data_dir, tmp.path() + "/engine-b.log");
      Hello(*b, next_id++);
      last = XaddCall(*b, next_id++, value);
    }
    EngineProcess& appender = other ? *b : a;
    FrameReader ra(a.stdout_fd());
    std::unique_ptr<FrameReader> rb;
    if (other) rb = std::make_unique<FrameReader>(b->stdout_fd());
    std::vector<FrameReader*> both = {&ra};
    if (rb) both.push_back(rb.get());
    Settle settle(cfg.settle_min_ms, cfg.settle_max_ms);
    std::string frame;
    for (int round = 0; round < cfg.warmup + cfg.rounds; ++round) {
      const uint64_t rid = next_id++, iid = next_id++, aid = next_id++;
      frame.clear();
      AppendXread(frame, rid, kStream, last, 100, kWaitMs);
      AppendXinfo(frame, iid, kStream);
      WriteAllFd(a.stdin_fd(), frame);
      Arrived read_ans, info_ans, add_ans;
      bool early = false;
      WaitFor({&ra}, {{iid, &info_ans}}, cfg.round_timeout_s, [&](uint64_t id) {
        if (id == rid) early = true;
        else throw std::runtime_error("unexpected answer id " + std::to_string(id));
      });
      if (early) {  // answered before the xinfo: it found entries, so it never waited
        ++res.not_parked;
        res.Error("xread answered before it could wait (stream had entries after " + std::to_string(last) + ")");
        continue;
      }
      settle.Pause();
      frame.clear();
      AppendXadd(frame, aid, kStream, value);
      const uint64_t t0 = MonotonicNs();
      WriteAllFd(appender.stdin_fd(), frame);
      WaitFor(both, {{rid, &read_ans}, {aid, &add_ans}}, cfg.round_timeout_s);
      AnswerSummary s;
      ScanAnswer(add_ans.body.data(), add_ans.body.size(), s);
      if (!s.ok || s.entry_id != static_cast<int64_t>(last + 1)) {
        res.Error("xadd answered entry " + std::to_string(s.entry_id) + " (" + s.error_code + "), expected " +
                  std::to_string(last + 1));
        if (s.ok && s.entry_id > 0) last = static_cast<uint64_t>(s.entry_id);
        continue;
      }
      last += 1;
      std::vector<uint64_t> ids = EntryIds(read_ans.body);
      if (ids.size() != 1 || ids[0] != last) {
        res.Error("the woken xread returned " + std::to_string(ids.size()) + " entries, expected only entry " +
                  std::to_string(last));
        if (!ids.empty()) last = std::max(last, ids.back());
        continue;
      }
      if (round >= cfg.warmup) {
        res.wake_ns.push_back(read_ans.at_ns - t0);
        res.add_ns.push_back(add_ans.at_ns - t0);
      }
    }
  } catch (const std::exception&) {
    log_tail = "engine A: " + a.LogTail(800) + (b ? "\nengine B: " + b->LogTail(800) : std::string());
    throw;
  }
  std::string failure;
  if (b) {
    ExitInfo ex = b->Shutdown(60);
    if (!(ex.exited && ex.status == 0)) failure = "engine B exit status " + std::to_string(ex.status);
  }
  ExitInfo ex = a.Shutdown(60);
  if (!(ex.exited && ex.status == 0) && failure.empty()) failure = "engine A exit status " + std::to_string(ex.status);
  if (!failure.empty()) {
    log_tail = "engine A: " + a.LogTail(800) + (b ? "\nengine B: " + b->LogTail(800) : std::string());
    throw std::runtime_error(failure + " after closing stdin");
  }
  return res;
}

// The bulk body of a "$<n>\r\n<body>\r\n" reply.
std::string BulkBody(const std::string& reply) {
  if (reply.empty() || reply[0] != '$') throw std::runtime_error("expected a bulk reply, got " + reply.substr(0, 80));
  size_t eol = reply.find("\r\n");
  size_t n = std::stoul(reply.substr(1, eol - 1));
  return reply.substr(eol + 2, n);
}

ModeResult RunRedisMode(const WakeupConfig& cfg) {
  ModeResult res;
  const std::string value = MakeRawValue(cfg.value_size);
  int c1 = ConnectTcp(cfg.host, cfg.port), c2 = ConnectTcp(cfg.host, cfg.port);
  struct Closer {
    int a, b;
    ~Closer() { close(a); close(b); }
  } closer{c1, c2};
  timeval tv{static_cast<time_t>(cfg.round_timeout_s), 0};
  setsockopt(c1, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  RedisCommand(c2, {"DEL", kStream});
  std::string last = BulkBody(RedisCommand(c2, {"XADD", kStream, "*", "v", value}));
  Settle settle(cfg.settle_min_ms, cfg.settle_max_ms);
  for (int round = 0; round < cfg.warmup + cfg.rounds; ++round) {
    RedisSend(c1, {"XREAD", "BLOCK", std::to_string(kWaitMs), "STREAMS", kStream, last});
    settle.Pause();
    const uint64_t t0 = MonotonicNs();
    RedisSend(c2, {"XADD", kStream, "*", "v", value});
    std::string woke = RedisReadReply(c1);
    const uint64_t t1 = MonotonicNs();
    std::string added = BulkBody(RedisReadReply(c2));
    if (woke.find(added) == std::string::npos) {
      res.Error("XREAD reply does not hold the new entry " + added + ": " + woke.substr(0, 80));
    } else if (round >= cfg.warmup) {
      res.wake_ns.push_back(t1 - t0);
    }
    last = added;
  }
  RedisCommand(c2, {"DEL", kStream});
  return res;
}

double PercentileMs(const std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return -1;
  size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1e6;
}

void MaybeMs(JsonWriter& w, const char* key, double v) {
  w.Key(key);
  if (v < 0) w.Null(); else w.Value(v);
}

void WriteMode(JsonWriter& w, const WakeupConfig& cfg, ModeResult& r) {
  std::sort(r.wake_ns.begin(), r.wake_ns.end());
  std::sort(r.add_ns.begin(), r.add_ns.end());
  w.BeginObject();
  w.Field("n", static_cast<uint64_t>(r.wake_ns.size()));
  w.Field("rounds", cfg.rounds);
  w.Field("warmup", cfg.warmup);
  MaybeMs(w, "p50_ms", PercentileMs(r.wake_ns, 0.50));
  MaybeMs(w, "p90_ms", PercentileMs(r.wake_ns, 0.90));
  MaybeMs(w, "p99_ms", PercentileMs(r.wake_ns, 0.99));
  MaybeMs(w, "p999_ms", PercentileMs(r.wake_ns, 0.999));
  MaybeMs(w, "max_ms", r.wake_ns.empty() ? -1 : static_cast<double>(r.wake_ns.back()) / 1e6);
  MaybeMs(w, "min_ms", r.wake_ns.empty() ? -1 : static_cast<double>(r.wake_ns.front()) / 1e6);
  MaybeMs(w, "mean_ms", r.wake_ns.empty() ? -1
                        : static_cast<double>(std::accumulate(r.wake_ns.begin(), r.wake_ns.end(), 0.0L) /
                                              r.wake_ns.size() / 1e6L));
  MaybeMs(w, "xadd_answer_p50_ms", PercentileMs(r.add_ns, 0.50));
  MaybeMs(w, "xadd_answer_p99_ms", PercentileMs(r.add_ns, 0.99));
  w.Field("errors", r.errors);
  w.Field("not_parked", r.not_parked);
  if (!r.first_error.empty()) w.Field("first_error", r.first_error);
  w.Key("settle_ms");
  w.BeginArray();
  w.Value(cfg.settle_min_ms);
  w.Value(cfg.settle_max_ms);
  w.EndArray();
  w.EndObject();
}

}  // namespace

int RunWakeupBench(const WakeupConfig& cfg, JsonWriter& w) {
  w.BeginObject();
  w.Field("mode", "wakeup");
  w.Key("engine_options");
  w.BeginObject();
  w.Field("binary", cfg.engine.binary);
  w.Field("shards", cfg.engine.shards);
  w.Field("sync", cfg.engine.sync);
  w.EndObject();
  w.Field("value_size", static_cast<uint64_t>(cfg.value_size));
  w.Field("wait_ms", kWaitMs);
  std::string failure, log_tail;
  w.Key("results");
  w.BeginObject();
  for (const std::string& mode : cfg.modes) {
    const uint64_t t0 = MonotonicNs();
    try {
      ModeResult r = mode == "redis" ? RunRedisMode(cfg) : RunEngineMode(cfg, mode == "other", log_tail);
      w.Key(mode);
      WriteMode(w, cfg, r);
      std::fprintf(stderr, "[wakeup] %-6s n=%zu  p50 %.3f ms  p99 %.3f ms  errors %llu  (%.1f s)\n", mode.c_str(),
                   r.wake_ns.size(), PercentileMs(r.wake_ns, 0.5), PercentileMs(r.wake_ns, 0.99),
                   static_cast<unsigned long long>(r.errors), static_cast<double>(MonotonicNs() - t0) / 1e9);
      if (r.errors > 0 && failure.empty()) failure = mode + ": " + std::to_string(r.errors) + " bad rounds (first: " + r.first_error + ")";
    } catch (const std::exception& e) {
      if (failure.empty()) failure = mode + ": " + e.what();
      std::fprintf(stderr, "[wakeup] %s FAILED: %s\n", mode.c_str(), e.what());
    }
  }
  w.EndObject();
  w.Field("ok", failure.empty());
  if (!failure.empty()) {
    w.Field("error", failure);
    if (!log_tail.empty()) w.Field("log_tail", log_tail);
  }
  w.EndObject();
  return failure.empty() ? 0 : 3;
}

}  // namespace litestash::bench
