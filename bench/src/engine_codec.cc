// Request framing, allocation-free answer scanning and the engine PipelineProtocol
// (see engine_codec.h).
#include "engine_codec.h"

#include <algorithm>
#include <stdexcept>

#include "json_writer.h"
#include "protocol/frame_encoder.h"

namespace litestash::bench {

namespace {

// SAX visitor picking the few answer fields the driver needs (see ScanAnswer in the header).
struct ScanVisitor : msgpack::null_visitor {
  explicit ScanVisitor(AnswerSummary& o) : out(o) {}
  AnswerSummary& out;
  int depth = 0;
  bool in_key = false;
  bool top_is_map = false;
  std::string_view key1, key2;

  bool start_map(uint32_t) { if (++depth == 1) top_is_map = true; return true; }
  bool end_map() { --depth; return true; }
  bool start_array(uint32_t n) {
    if (depth == 1 && !in_key && key1 == "entries") out.entries = n;
    if (depth == 1 && !in_key && key1 == "versions") out.versions = n;
    ++depth;
    return true;
  }
  bool end_array() { --depth; return true; }
  bool start_map_key() { in_key = true; return true; }
  bool end_map_key() { in_key = false; return true; }
  bool visit_str(const char* v, uint32_t n) {
    std::string_view s(v, n);
    if (in_key) {
      if (depth == 1) key1 = s;
      else if (depth == 2) key2 = s;
    } else if (depth == 2 && key1 == "error" && key2 == "code") {
      out.error_code.assign(s);
    }
    return true;
  }
  bool visit_boolean(bool b) {
    if (in_key) return true;
    if (depth == 1) {
      if (key1 == "ok") out.ok = b;
      else if (key1 == "found") out.found = b ? 1 : 0;
      else if (key1 == "deleted") out.deleted = b ? 1 : 0;
    } else if (depth == 2 && key1 == "found" && !b) {
      ++out.found_false;
    }
    return true;
  }
  bool visit_positive_integer(uint64_t v) {
    if (!in_key && depth == 1) {
      if (key1 == "id") { out.has_id = true; out.id = v; }
      else if (key1 == "entry_id") out.entry_id = static_cast<int64_t>(v);
      else if (key1 == "version") out.version = static_cast<int64_t>(v);
    }
    return true;
  }
};

void WriteObject(JsonWriter& w, const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: w.Null(); break;
    case msgpack::type::BOOLEAN: w.Value(o.via.boolean); break;
    case msgpack::type::POSITIVE_INTEGER: w.Value(static_cast<uint64_t>(o.via.u64)); break;
    case msgpack::type::NEGATIVE_INTEGER: w.Value(static_cast<int64_t>(o.via.i64)); break;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: w.Value(o.via.f64); break;
    case msgpack::type::STR: w.Value(std::string_view(o.via.str.ptr, o.via.str.size)); break;
    case msgpack::type::BIN:
      w.BeginObject(); w.Field("bin", o.via.bin.size); w.EndObject(); break;
    case msgpack::type::EXT:
      w.BeginObject(); w.Field("ext", o.via.ext.size); w.EndObject(); break;
    case msgpack::type::ARRAY:
      w.BeginArray();
      for (uint32_t i = 0; i < o.via.array.size; ++i) WriteObject(w, o.via.array.ptr[i]);
      w.EndArray();
      break;
    case msgpack::type::MAP:
      w.BeginObject();
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        const auto& kv = o.via.map.ptr[i];
        if (kv.key.type == msgpack::type::STR) w.Key(std::string_view(kv.key.via.str.ptr, kv.key.via.str.size));
        else w.Key("?");
        WriteObject(w, kv.val);
      }
      w.EndObject();
      break;
  }
}

}  // namespace

// Requests are built with protocol/'s FrameEncoder, the engine's own frame builder.
FrameEncoder& Encoder() {
  thread_local FrameEncoder enc;
  return enc;
}

void AppendSimple(std::string& out, uint64_t id, std::string_view op) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, op, 0);
  f.FinishInto(&out);
}

void AppendSet(std::string& out, uint64_t id, std::string_view key, std::string_view value) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "set", 2);
  f.Key("key");
  f.Str(key);
  f.Key("value");
  f.Raw(value);
  f.FinishInto(&out);
}

// {id, op, key} for get and delete.
void AppendKeyed(std::string& out, uint64_t id, std::string_view op, std::string_view key) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, op, 1);
  f.Key("key");
  f.Str(key);
  f.FinishInto(&out);
}

void AppendGet(std::string& out, uint64_t id, std::string_view key) {
  AppendKeyed(out, id, "get", key);
}

void AppendGetAt(std::string& out, uint64_t id, std::string_view key, uint64_t version) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "get", 2);
  f.Key("key");
  f.Str(key);
  f.Key("version");
  f.Uint(version);
  f.FinishInto(&out);
}

void AppendVersions(std::string& out, uint64_t id, std::string_view key) {
  AppendKeyed(out, id, "versions", key);
}

void AppendDelete(std::string& out, uint64_t id, std::string_view key) {
  AppendKeyed(out, id, "delete", key);
}

void AppendMget(std::string& out, uint64_t id, const std::vector<std::string>& keys) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "mget", 1);
  f.Key("keys");
  f.ArrayHeader(static_cast<uint32_t>(keys.size()));
  for (const auto& k : keys) f.Str(k);
  f.FinishInto(&out);
}

void AppendMset(std::string& out, uint64_t id, const std::vector<std::string>& keys, std::string_view value) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "mset", 1);
  f.Key("entries");
  f.ArrayHeader(static_cast<uint32_t>(keys.size()));
  for (const auto& k : keys) {
    f.ArrayHeader(2);
    f.Str(k);
    f.Raw(value);
  }
  f.FinishInto(&out);
}

// A txn of sets: {op: txn, ops: [{op: set, key, value}, ...]}.
void AppendTxn(std::string& out, uint64_t id, const std::vector<std::string>& keys, std::string_view value) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "txn", 1);
  f.Key("ops");
  f.ArrayHeader(static_cast<uint32_t>(keys.size()));
  for (const auto& k : keys) {
    f.MapHeader(3);
    f.Key("op");
    f.Str("set");
    f.Key("key");
    f.Str(k);
    f.Key("value");
    f.Raw(value);
  }
  f.FinishInto(&out);
}

void AppendXadd(std::string& out, uint64_t id, std::string_view stream, std::string_view value) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "xadd", 2);
  f.Key("stream");
  f.Str(stream);
  f.Key("value");
  f.Raw(value);
  f.FinishInto(&out);
}

void AppendXrange(std::string& out, uint64_t id, std::string_view stream, uint64_t after, uint32_t limit) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "xrange", 3);
  f.Key("stream");
  f.Str(stream);
  f.Key("after");
  f.Uint(after);
  f.Key("limit");
  f.Uint(limit);
  f.FinishInto(&out);
}

void AppendXread(std::string& out, uint64_t id, std::string_view stream, uint64_t after, uint32_t limit,
                 uint64_t wait_ms) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "xread", 4);
  f.Key("stream");
  f.Str(stream);
  f.Key("after");
  f.Uint(after);
  f.Key("limit");
  f.Uint(limit);
  f.Key("wait_ms");
  f.Uint(wait_ms);
  f.FinishInto(&out);
}

void AppendXinfo(std::string& out, uint64_t id, std::string_view stream) {
  FrameEncoder& f = Encoder();
  f.BeginRequest(id, "xinfo", 1);
  f.Key("stream");
  f.Str(stream);
  f.FinishInto(&out);
}

bool ScanAnswer(const char* body, size_t len, AnswerSummary& out) {
  out = AnswerSummary();
  ScanVisitor v(out);
  size_t off = 0;
  if (!msgpack::parse(body, len, off, v)) return false;
  return off == len && v.top_is_map;
}

msgpack::object_handle DecodeBody(const std::string& body) { return msgpack::unpack(body.data(), body.size()); }

std::string ObjectToJson(const msgpack::object& o) {
  JsonWriter w;
  WriteObject(w, o);
  return w.str();
}

const msgpack::object* MapGet(const msgpack::object& o, std::string_view key) {
  if (o.type != msgpack::type::MAP) return nullptr;
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    if (kv.key.type == msgpack::type::STR && std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key) {
      return &kv.val;
    }
  }
  return nullptr;
}

EngineProtocol::EngineProtocol(const PhaseSpec& spec, uint64_t key_count, uint64_t seed, uint64_t id_base,
                               std::string value_msgpack, VersionLog* versions)
    : stream_(spec, key_count, seed), id_base_(id_base), value_(std::move(value_msgpack)),
      op_kind_(spec.op), batch_(spec.batch), versions_(versions), key_count_(std::max<uint64_t>(key_count, 1)),
      seq_from_(spec.seq_from) {
  if (versions_ && spec.op == OpKind::kSet && spec.dist == Dist::kSeq) {
    record_versions_ = true;
    if (versions_->first.size() < key_count_) versions_->first.resize(key_count_, 0);
  }
  if (spec.at == "first") {
    if (!versions_ || versions_->recorded < key_count_) {
      throw std::runtime_error("get at=first needs an earlier seq set phase over every key (versions recorded for " +
                               std::to_string(versions_ ? versions_->recorded : 0) + " of " +
                               std::to_string(key_count_) + " keys)");
    }
    get_at_first_ = true;
  }
  if (IsStreamOp(spec.op)) {
    stream_names_.resize(spec.streams);
    for (uint32_t i = 0; i < spec.streams; ++i) StreamName(spec.stream, i, stream_names_[i]);
  }
}

void EngineProtocol::Encode(uint64_t seq, std::string& out) {
  stream_.Next(op_);
  if (!IsStreamOp(op_.kind)) {
    keys_.resize(op_.keys.size());
    for (size_t i = 0; i < op_.keys.size(); ++i) KeyName(op_.keys[i], keys_[i]);
  }
  const uint64_t id = id_base_ + seq;
  switch (op_.kind) {
    case OpKind::kSet: AppendSet(out, id, keys_[0], value_); break;
    case OpKind::kGet:
      if (get_at_first_) AppendGetAt(out, id, keys_[0], versions_->first[op_.keys[0]]);
      else AppendGet(out, id, keys_[0]);
      break;
    case OpKind::kVersions: AppendVersions(out, id, keys_[0]); break;
    case OpKind::kDelete: AppendDelete(out, id, keys_[0]); break;
    case OpKind::kMget: AppendMget(out, id, keys_); break;
    case OpKind::kMset: AppendMset(out, id, keys_, value_); break;
    case OpKind::kTxn: AppendTxn(out, id, keys_, value_); break;
    case OpKind::kXadd: AppendXadd(out, id, stream_names_[op_.stream], value_); break;
    case OpKind::kXrange: AppendXrange(out, id, stream_names_[op_.stream], op_.keys[0], batch_); break;
    case OpKind::kMixed: break;  // resolved by OpStream
  }
}

size_t EngineProtocol::Decode(const char* data, size_t len, std::vector<Answer>& answers) {
  size_t pos = 0;
  AnswerSummary s;
  while (len - pos >= 4) {
    const auto* p = reinterpret_cast<const unsigned char*>(data + pos);
    uint32_t n = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    if (len - pos - 4 < n) break;
    if (!ScanAnswer(data + pos + 4, n, s)) throw std::runtime_error("answer body is not one MessagePack map");
    if (!s.has_id) {
      throw std::runtime_error("answer without id (error " + (s.error_code.empty() ? std::string("?") : s.error_code) + ")");
    }
    if (s.id < id_base_) throw std::runtime_error("answer id " + std::to_string(s.id) + " from before this phase");
    Answer a;
    a.seq = s.id - id_base_;
    a.ok = s.ok;
    if (!s.ok) a.error = s.error_code.empty() ? "(no code)" : s.error_code;
    a.misses = s.found_false + (s.found == 0 ? 1 : 0) + (s.deleted == 0 ? 1 : 0);
    if (op_kind_ == OpKind::kVersions && s.ok) {
      a.items = static_cast<uint32_t>(s.versions > 0 ? s.versions : 0);
      if (a.items == 0) ++a.misses;
    }
    if (record_versions_ && s.ok && s.version > 0) {
      uint64_t& v = versions_->first[(seq_from_ + a.seq) % key_count_];
      if (v == 0) {
        v = static_cast<uint64_t>(s.version);
        ++versions_->recorded;
      }
    }
    if (s.entries >= 0) {
      a.items = static_cast<uint32_t>(s.entries);
      if (op_kind_ == OpKind::kXrange && s.ok && a.items < batch_) a.misses += batch_ - a.items;
    }
    answers.push_back(std::move(a));
    pos += 4 + n;
  }
  return pos;
}

}  // namespace litestash::bench
