// Phase spec parsing, key naming, value payloads and the op stream (see workload.h).
#include "workload.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace litestash::bench {

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kSet: return "set";
    case OpKind::kGet: return "get";
    case OpKind::kMixed: return "mixed";
    case OpKind::kMget: return "mget";
    case OpKind::kMset: return "mset";
    case OpKind::kTxn: return "txn";
    case OpKind::kDelete: return "delete";
    case OpKind::kXadd: return "xadd";
    case OpKind::kXrange: return "xrange";
    case OpKind::kVersions: return "versions";
  }
  return "?";
}

const char* DistName(Dist d) {
  switch (d) {
    case Dist::kSeq: return "seq";
    case Dist::kUniform: return "uniform";
    case Dist::kHot: return "hot";
  }
  return "?";
}

namespace {

uint64_t ParseUint(std::string_view field, std::string_view v) {
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) {
    throw std::invalid_argument("phase field '" + std::string(field) + "' wants an unsigned integer, got '" +
                                std::string(v) + "'");
  }
  return out;
}

OpKind ParseOp(std::string_view v) {
  if (v == "set") return OpKind::kSet;
  if (v == "get") return OpKind::kGet;
  if (v == "mixed") return OpKind::kMixed;
  if (v == "mget") return OpKind::kMget;
  if (v == "mset") return OpKind::kMset;
  if (v == "txn") return OpKind::kTxn;
  if (v == "delete") return OpKind::kDelete;
  if (v == "xadd") return OpKind::kXadd;
  if (v == "xrange") return OpKind::kXrange;
  if (v == "versions") return OpKind::kVersions;
  throw std::invalid_argument("unknown op '" + std::string(v) + "'");
}

Dist ParseDist(std::string_view v) {
  if (v == "seq") return Dist::kSeq;
  if (v == "uniform") return Dist::kUniform;
  if (v == "hot") return Dist::kHot;
  throw std::invalid_argument("unknown dist '" + std::string(v) + "'");
}

}  // namespace

PhaseSpec ParsePhaseSpec(std::string_view text) {
  PhaseSpec spec;
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw std::invalid_argument("phase spec must look like NAME:field=value,...: '" + std::string(text) + "'");
  }
  spec.name = std::string(text.substr(0, colon));
  std::string_view rest = text.substr(colon + 1);
  bool batch_given = false;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos) throw std::invalid_argument("phase field without '=': " + std::string(item));
    std::string_view k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "op") spec.op = ParseOp(v);
    else if (k == "n") spec.requests = ParseUint(k, v);
    else if (k == "depth") spec.depth = static_cast<int>(ParseUint(k, v));
    else if (k == "dist") spec.dist = ParseDist(v);
    else if (k == "hot") spec.hot_keys = ParseUint(k, v);
    else if (k == "batch") { spec.batch = static_cast<uint32_t>(ParseUint(k, v)); batch_given = true; }
    else if (k == "from") spec.seq_from = ParseUint(k, v);
    else if (k == "stream") spec.stream = std::string(v);
    else if (k == "streams") spec.streams = static_cast<uint32_t>(ParseUint(k, v));
    else if (k == "commit") spec.commit_every = static_cast<int64_t>(ParseUint(k, v));
    else if (k == "sync") spec.sync = std::string(v);
    else if (k == "fresh") spec.fresh = ParseUint(k, v) != 0;
    else if (k == "absent") spec.absent = ParseUint(k, v) != 0;
    else if (k == "at") spec.at = std::string(v);
    else throw std::invalid_argument("unknown phase field '" + std::string(k) + "'");
  }
  if (spec.depth < 1 || spec.depth > 1024) throw std::invalid_argument("depth must be 1..1024");
  if (spec.requests == 0) throw std::invalid_argument("n must be at least 1");
  if (spec.op == OpKind::kXrange && !batch_given) spec.batch = 100;
  if (spec.op == OpKind::kMget || spec.op == OpKind::kMset || spec.op == OpKind::kTxn ||
      spec.op == OpKind::kXrange) {
    if (spec.batch < 1) throw std::invalid_argument("batch must be at least 1");
    if (spec.op == OpKind::kXrange && spec.batch > 10000) throw std::invalid_argument("xrange batch must be 1..10000");
  } else {
    spec.batch = 1;
  }
  if (spec.dist == Dist::kHot && spec.hot_keys == 0) throw std::invalid_argument("hot must be at least 1");
  if (spec.streams < 1) throw std::invalid_argument("streams must be at least 1");
  if (spec.stream.empty()) throw std::invalid_argument("stream must not be empty");
  if (!spec.at.empty()) {
    if (spec.at != "first") throw std::invalid_argument("at wants 'first', got '" + spec.at + "'");
    if (spec.op != OpKind::kGet) throw std::invalid_argument("at=first applies to op=get only");
    if (spec.absent) throw std::invalid_argument("at=first and absent=1 exclude each other");
  }
  if (spec.absent && spec.op != OpKind::kGet && spec.op != OpKind::kMget && spec.op != OpKind::kVersions) {
    throw std::invalid_argument("absent=1 applies to the read ops get, mget and versions only");
  }
  return spec;
}

void KeyName(uint64_t index, std::string& out) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, index);
  out.assign("key:");
  out.append(buf, p);
}

std::string KeyName(uint64_t index) {
  std::string s;
  KeyName(index, s);
  return s;
}

void StreamName(const std::string& prefix, uint64_t index, std::string& out) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, index);
  out.assign(prefix);
  out.push_back(':');
  out.append(buf, p);
}

std::string MakeRawValue(size_t size) {
  std::string v(size, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;  // xorshift64: incompressible, deterministic
    v[i] = static_cast<char>(x & 0xff);
  }
  return v;
}

std::string MakeMsgpackBinValue(const std::string& raw) {
  std::string out;
  size_t n = raw.size();
  if (n <= 0xff) {
    out.push_back(static_cast<char>(0xc4));
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(0xc5));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(0xc6));
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(n >> s));
  }
  out += raw;
  return out;
}

OpStream::OpStream(const PhaseSpec& spec, uint64_t key_count, uint64_t seed)
    : spec_(spec),
      key_count_(std::max<uint64_t>(key_count, 1)),
      seq_next_(spec.seq_from % std::max<uint64_t>(key_count, 1)),
      rng_(seed),
      uniform_(0, std::max<uint64_t>(key_count, 1) - 1),
      hot_(0, std::min(spec.hot_keys, std::max<uint64_t>(key_count, 1)) - 1),
      range_start_(0, std::max<uint64_t>(key_count, spec.batch) - spec.batch),
      stream_pick_(0, spec.streams - 1) {}

uint64_t OpStream::NextKey() {
  switch (spec_.dist) {
    case Dist::kSeq: {
      uint64_t k = seq_next_;
      seq_next_ = (seq_next_ + 1) % key_count_;
      return k;
    }
    case Dist::kUniform: return uniform_(rng_);
    case Dist::kHot: return hot_(rng_);
  }
  return 0;
}

void OpStream::Next(Op& op) {
  op.keys.clear();
  op.stream = 0;
  const uint64_t k = requests_made_++;
  if (spec_.op == OpKind::kXadd) {
    op.kind = OpKind::kXadd;
    op.stream = k % spec_.streams;
    return;
  }
  if (spec_.op == OpKind::kXrange) {
    op.kind = OpKind::kXrange;
    if (spec_.streams > 1) op.stream = stream_pick_(rng_);
    const uint64_t span = std::max<uint64_t>(key_count_, spec_.batch) - spec_.batch + 1;  // valid starts
    op.keys.push_back(spec_.dist == Dist::kSeq ? (spec_.seq_from + k * spec_.batch) % span : range_start_(rng_));
    return;
  }
  switch (spec_.op) {
    case OpKind::kMixed:
      op.kind = percent_(rng_) < 90 ? OpKind::kGet : OpKind::kSet;
      break;
    default:
      op.kind = spec_.op;
  }
  for (uint32_t i = 0; i < spec_.batch; ++i) {
    uint64_t key = NextKey();
    // A txn names each key once (the engine refuses a key twice): draw again on a repeat.
    while (op.kind == OpKind::kTxn && std::find(op.keys.begin(), op.keys.end(), key) != op.keys.end() &&
           op.keys.size() < key_count_) {
      key = NextKey();
    }
    op.keys.push_back(key);
  }
  if (spec_.absent) {
    for (uint64_t& key : op.keys) key += key_count_;  // past every key a phase writes
  }
}

}  // namespace litestash::bench
