// libFuzzer target: protocol/request_decoder (DecodeRequest) and protocol/session (Session).
//
// The input is used twice.
// 1. As one frame body for DecodeRequest, under two sets of limits: kWide (the engine's defaults,
//    1 MiB frames) and kTight (8-byte keys, 24-byte values, so short inputs reach the key-rule
//    and value-size paths). Checks:
//    - success: every string_view of the Request (key, value, keys, entries, prefix, after) lies
//      inside request->frame; keys obey the key rules (independent UTF-8 validator); `value` and
//      every entry value re-parse (msgpack-cxx's full unpacker) as exactly one object within
//      max_value_bytes; ttl_ms >= 1, 1 <= limit <= 10000; fields the op does not take are unset;
//      and the whole frame unpacks as exactly one map whose `id`, `op`, `key`, `keys`, `prefix`,
//      `after` agree with the Request;
//    - failure: the error code is one DecodeRequest may give, and EncodeError() of it is a
//      well-formed error answer (CheckErrorFrame: shape, valid UTF-8 strings);
//    - limits are monotone: success under kTight implies the same Request under kWide;
//    - allocation bound ("alloc_bound"): no single allocation made while decoding a frame of
//      N bytes exceeds 32 N + 8 KiB: a vector element (16-byte string_view, 32-byte pair) per
//      element present (>= 1 byte each), doubled by geometric growth, plus msgpack-cxx's parse
//      stack (<= kMaxDepth 512 entries of 8 bytes) and short strings. With fuzz inputs of a few
//      KiB, anything sized from a declared length or count that was not checked against the
//      bytes present blows through it. (reserve() from a checked declared count stays within
//      32 N; that, and the 100 000-item cap, are unit-tested in request_decoder_test.cc.)
// 2. As a raw stdin stream for a Session (max_frame_bytes 64 KiB) with stub sinks, fed in chunks
//    derived from the input, once through Feed() and once through FeedFrame() (the engine's
//    loop). Checks: exactly one sink call per frame of the naive framing model, in order, of the
//    right kind (Submit for a body DecodeRequest accepts, else Send/SendNow with the same code
//    and id; bad_frame for length 0, frame_too_large for oversize); frames() counts them;
//    mid_frame() matches the model at the end; each FeedFrame() makes at most one sink call and
//    stops exactly where the model's frame event is (or consumes everything when none is due);
//    every Submit'd Request and every answer passes the checks of part 1.
// "alloc_bound" and "error_utf8" can be disabled with env FUZZ_SKIP_CHECKS (see README.md).
#include <sanitizer/allocator_interface.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/request_decoder.h"
#include "protocol/response_encoder.h"
#include "protocol/session.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace litestash;
using fuzz::CheckErrorFrame;
using fuzz::IsStrictUtf8;
using fuzz::ParsesAsOneObject;
using fuzz::StrOf;

const Limits kWide{1u << 20, 1024, 8u << 20};
const Limits kTight{1u << 20, 8, 24};
const Limits kStream{64u << 10, 1024, 8u << 20};

// ---- allocation tracking (ASan malloc hooks; active only around one DecodeRequest call)

bool g_tracking = false;
size_t g_largest_alloc = 0;

void MallocHook(const volatile void*, size_t size) {
  if (g_tracking && size > g_largest_alloc) g_largest_alloc = size;
}
void FreeHook(const volatile void*) {}

// ---- Request checks

bool Inside(const Request& r, std::string_view v) {
  if (v.data() == nullptr) return v.empty();  // never set
  const char* b = r.frame.data();
  return v.data() >= b && v.data() + v.size() <= b + r.frame.size();
}

bool Set(std::string_view v) { return v.data() != nullptr; }

void CheckKey(const Request& r, std::string_view key, const Limits& limits, const char* what) {
  FUZZ_CHECK(Inside(r, key), "%s is not inside the frame", what);
  FUZZ_CHECK(!key.empty() && key.size() <= limits.max_key_bytes && IsStrictUtf8(key),
             "%s breaks the key rules: %zu bytes '%.*s'", what, key.size(), int(key.size()),
             key.data());
}

void CheckValue(const Request& r, std::string_view value, const Limits& limits, const char* what) {
  FUZZ_CHECK(Inside(r, value), "%s is not inside the frame", what);
  FUZZ_CHECK(value.size() <= limits.max_value_bytes, "%s is %zu bytes, limit %zu", what,
             value.size(), limits.max_value_bytes);
  FUZZ_CHECK(ParsesAsOneObject(value), "%s (%zu bytes) is not exactly one MessagePack object",
             what, value.size());
}

// Compares a decoded str field with the unpacked whole-frame object.
void CheckSameStr(const msgpack::object& o, std::string_view v, const char* what) {
  FUZZ_CHECK(o.type == msgpack::type::STR && StrOf(o) == v, "%s differs from the unpacked frame",
             what);
}

void CheckRequest(const Request& r, const Limits& limits) {
  const OpSchema& schema = r.schema();
  const FieldMask allowed = schema.required | schema.optional;
  auto takes = [&](FieldId f) { return (allowed & Bit(f)) != 0; };
  auto needs = [&](FieldId f) { return (schema.required & Bit(f)) != 0; };

  FUZZ_CHECK(!r.frame.empty() && r.frame.size() <= limits.max_frame_bytes, "frame of %zu bytes",
             r.frame.size());
  if (takes(FieldId::kKey)) {
    FUZZ_CHECK(needs(FieldId::kKey), "key optional for op %d", int(r.op));
    CheckKey(r, r.key, limits, "key");
  } else {
    FUZZ_CHECK(!Set(r.key), "op %.*s got a key", int(schema.name.size()), schema.name.data());
  }
  if (takes(FieldId::kValue)) {
    CheckValue(r, r.value, limits, "value");
  } else {
    FUZZ_CHECK(!Set(r.value), "op got a value");
  }
  FUZZ_CHECK(takes(FieldId::kKeys) || r.keys.empty(), "op got keys");
  for (std::string_view k : r.keys) CheckKey(r, k, limits, "keys[i]");
  FUZZ_CHECK(takes(FieldId::kEntries) || r.entries.empty(), "op got entries");
  for (const auto& [k, v] : r.entries) {
    CheckKey(r, k, limits, "entries[i] key");
    CheckValue(r, v, limits, "entries[i] value");
  }
  FUZZ_CHECK(takes(FieldId::kPrefix) || !Set(r.prefix), "op got a prefix");
  if (Set(r.prefix)) {
    FUZZ_CHECK(Inside(r, r.prefix) && r.prefix.size() <= limits.max_key_bytes &&
                   IsStrictUtf8(r.prefix),
               "bad prefix");
  }
  FUZZ_CHECK(takes(FieldId::kAfter) || !r.after, "op got after");
  if (r.after) {
    FUZZ_CHECK(Inside(r, *r.after) && r.after->size() <= limits.max_key_bytes &&
                   IsStrictUtf8(*r.after),
               "bad after");
  }
  FUZZ_CHECK(takes(FieldId::kTtlMs) || !r.ttl_ms, "op got ttl_ms");
  FUZZ_CHECK(!needs(FieldId::kTtlMs) || r.ttl_ms, "op needs ttl_ms");
  FUZZ_CHECK(!r.ttl_ms || *r.ttl_ms >= 1, "ttl_ms 0 accepted");
  FUZZ_CHECK(takes(FieldId::kShard) || !r.shard, "op got shard");
  FUZZ_CHECK(r.limit >= 1 && r.limit <= kMaxScanLimit, "limit %llu accepted",
             (unsigned long long)r.limit);

  // The whole frame, through msgpack-cxx's own unpacker (bounded now: the decoder validated it).
  size_t off = 0;
  msgpack::object_handle oh;
  try {
    oh = msgpack::unpack(r.frame.data(), r.frame.size(), off);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "accepted frame does not unpack: %s", e.what());
  }
  FUZZ_CHECK(off == r.frame.size(), "accepted frame has %zu trailing bytes", r.frame.size() - off);
  const msgpack::object& m = oh.get();
  FUZZ_CHECK(m.type == msgpack::type::MAP, "accepted frame is not a map");
  std::vector<std::string_view> names;
  for (uint32_t i = 0; i < m.via.map.size; ++i) {
    const auto& kv = m.via.map.ptr[i];
    FUZZ_CHECK(kv.key.type == msgpack::type::STR, "accepted a non-str field name");
    const std::string_view name = StrOf(kv.key);
    for (std::string_view seen : names) FUZZ_CHECK(seen != name, "accepted a duplicate field");
    names.push_back(name);
    if (name == "id") {
      FUZZ_CHECK(kv.val.type == msgpack::type::POSITIVE_INTEGER && kv.val.via.u64 == r.id,
                 "id differs");
    } else if (name == "op") {
      CheckSameStr(kv.val, schema.name, "op");
    } else if (name == "key") {
      CheckSameStr(kv.val, r.key, "key");
    } else if (name == "prefix") {
      CheckSameStr(kv.val, r.prefix, "prefix");
    } else if (name == "after") {
      FUZZ_CHECK(r.after.has_value(), "after sent but not decoded");
      CheckSameStr(kv.val, *r.after, "after");
    } else if (name == "keys") {
      FUZZ_CHECK(kv.val.type == msgpack::type::ARRAY && kv.val.via.array.size == r.keys.size(),
                 "keys count differs");
      for (size_t k = 0; k < r.keys.size(); ++k) {
        CheckSameStr(kv.val.via.array.ptr[k], r.keys[k], "keys[i]");
      }
    } else if (name == "entries") {
      FUZZ_CHECK(kv.val.type == msgpack::type::ARRAY && kv.val.via.array.size == r.entries.size(),
                 "entries count differs");
    } else if (name == "ttl_ms" || name == "shard" || name == "limit") {
      FUZZ_CHECK(kv.val.type == msgpack::type::POSITIVE_INTEGER, "%.*s is not a uint",
                 int(name.size()), name.data());
      const std::optional<uint64_t> got =
          name == "ttl_ms" ? r.ttl_ms : name == "shard" ? r.shard : std::optional(r.limit);
      FUZZ_CHECK(got == kv.val.via.u64, "%.*s differs", int(name.size()), name.data());
    } else {
      FUZZ_CHECK(name == "value", "accepted unknown field '%.*s'", int(name.size()), name.data());
    }
  }
}

// Offsets of a view within its request's frame, for comparing two decodes of the same bytes.
std::pair<ptrdiff_t, size_t> Where(const Request& r, std::string_view v) {
  return {v.data() ? v.data() - r.frame.data() : -1, v.size()};
}

void CheckSameRequest(const Request& a, const Request& b) {
  FUZZ_CHECK(a.id == b.id && a.op == b.op && a.ttl_ms == b.ttl_ms && a.shard == b.shard &&
                 a.limit == b.limit && a.keys.size() == b.keys.size() &&
                 a.entries.size() == b.entries.size() && a.after.has_value() == b.after.has_value(),
             "decodes under tight and wide limits differ");
  FUZZ_CHECK(Where(a, a.key) == Where(b, b.key) && Where(a, a.value) == Where(b, b.value) &&
                 Where(a, a.prefix) == Where(b, b.prefix),
             "key/value/prefix differ between limits");
  for (size_t i = 0; i < a.keys.size(); ++i) {
    FUZZ_CHECK(Where(a, a.keys[i]) == Where(b, b.keys[i]), "keys differ between limits");
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    FUZZ_CHECK(Where(a, a.entries[i].first) == Where(b, b.entries[i].first) &&
                   Where(a, a.entries[i].second) == Where(b, b.entries[i].second),
               "entries differ between limits");
  }
}

void CheckDecodeError(const DecodeError& err) {
  const ErrorCode c = err.status.code();
  FUZZ_CHECK(c == ErrorCode::kBadRequest || c == ErrorCode::kTypeError ||
                 c == ErrorCode::kUnknownOp || c == ErrorCode::kInvalidKey ||
                 c == ErrorCode::kValueTooLarge,
             "DecodeRequest failed with code %d", int(c));
  const auto answer = CheckErrorFrame(EncodeError(err.id, err.status));
  FUZZ_CHECK(answer.code == ErrorCodeName(c) && answer.id == err.id, "answer differs from error");
}

// DecodeRequest plus every check of part 1 that needs only one decode.
RequestPtr DecodeAndCheck(std::string_view body, const Limits& limits, DecodeError* err,
                          bool track_allocations) {
  std::string frame(body);
  g_largest_alloc = 0;
  g_tracking = track_allocations;
  RequestPtr req = DecodeRequest(std::move(frame), limits, err);
  g_tracking = false;
  if (track_allocations && fuzz::CheckEnabled("alloc_bound")) {
    FUZZ_CHECK(g_largest_alloc <= 32 * body.size() + 8192,
               "decoding a %zu-byte frame made a %zu-byte allocation (%s)", body.size(),
               g_largest_alloc, req ? "accepted" : err->status.ToString().c_str());
  }
  if (req) {
    CheckRequest(*req, limits);
  } else {
    CheckDecodeError(*err);
  }
  return req;
}

// ---- part 2: Session with stub sinks

struct Call {
  bool submitted;  // Submit (true) or Send (false)
  std::optional<uint64_t> id;
  std::string code;  // Send only
};

class RecordingSinks : public RequestSink, public FrameSink {
 public:
  void Submit(RequestPtr request) override {
    FUZZ_CHECK(request != nullptr, "Submit(nullptr)");
    CheckRequest(*request, kStream);
    calls.push_back({true, request->id, ""});
  }
  void Send(std::string frame) override {
    const auto answer = CheckErrorFrame(frame);
    calls.push_back({false, answer.id, answer.code});
  }
  void SendNow(std::string frame) override { Send(std::move(frame)); }
  std::vector<Call> calls;
};

// Offset in the stream at which the model's frame `f` is due as a sink call.
size_t DueAt(const fuzz::RefFrame& f) {
  return f.kind == fuzz::RefFrame::kBody ? f.end : f.header_end;
}

void RunSession(const uint8_t* data, size_t size, bool frame_by_frame) {
  const std::string_view stream(reinterpret_cast<const char*>(data), size);
  const auto ref = fuzz::ReferenceFrames(stream, kStream.max_frame_bytes);

  RecordingSinks sinks;
  Session session(kStream, &sinks, &sinks);
  fuzz::SplitRng rng(fuzz::Fnv1a(data, size) + frame_by_frame);
  for (size_t off = 0; off < size;) {
    const size_t n = std::min(size - off, rng.Chunk());
    if (!frame_by_frame) {
      session.Feed(stream.data() + off, n);
      off += n;
    } else {
      for (size_t end = off + n; off < end;) {
        const size_t calls_before = sinks.calls.size();
        const size_t used = session.FeedFrame(stream.data() + off, end - off);
        FUZZ_CHECK(used > 0 && used <= end - off, "FeedFrame(%zu bytes) returned %zu",
                   end - off, used);
        off += used;
        const size_t made = sinks.calls.size() - calls_before;
        FUZZ_CHECK(made <= 1, "one FeedFrame() made %zu sink calls", made);
        if (made == 1) {
          FUZZ_CHECK(calls_before < ref.frames.size() &&
                         off == DueAt(ref.frames[calls_before]),
                     "FeedFrame() answered frame %zu at offset %zu", calls_before, off);
        } else {
          FUZZ_CHECK(off == end, "FeedFrame() stopped at %zu of %zu without a frame", off, end);
        }
      }
    }
    FUZZ_CHECK(session.frames() == sinks.calls.size(), "frames() %llu but %zu sink calls",
               (unsigned long long)session.frames(), sinks.calls.size());
  }
  FUZZ_CHECK(sinks.calls.size() == ref.frames.size(), "%zu sink calls for %zu frames",
             sinks.calls.size(), ref.frames.size());
  FUZZ_CHECK(session.mid_frame() == ref.partial, "mid_frame() %d, model %d", session.mid_frame(),
             ref.partial);
  for (size_t i = 0; i < ref.frames.size(); ++i) {
    const auto& f = ref.frames[i];
    const Call& c = sinks.calls[i];
    switch (f.kind) {
      case fuzz::RefFrame::kZero:
        FUZZ_CHECK(!c.submitted && c.code == "bad_frame" && !c.id, "frame %zu (length 0): %s", i,
                   c.code.c_str());
        break;
      case fuzz::RefFrame::kTooLarge:
        FUZZ_CHECK(!c.submitted && c.code == "frame_too_large" && !c.id,
                   "frame %zu (oversize): %s", i, c.code.c_str());
        break;
      case fuzz::RefFrame::kBody: {
        DecodeError err;
        RequestPtr req = DecodeRequest(std::string(f.body), kStream, &err);
        if (req) {
          FUZZ_CHECK(c.submitted && c.id == req->id, "frame %zu: valid request not submitted", i);
        } else {
          FUZZ_CHECK(!c.submitted && c.code == ErrorCodeName(err.status.code()) && c.id == err.id,
                     "frame %zu: answered %s, decoder says %s", i, c.code.c_str(),
                     err.status.ToString().c_str());
        }
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  __sanitizer_install_malloc_and_free_hooks(MallocHook, FreeHook);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  if (size > 0 && size <= kWide.max_frame_bytes) {  // the reader never yields an empty frame
    DecodeError wide_err, tight_err;
    RequestPtr wide = DecodeAndCheck(body, kWide, &wide_err, /*track_allocations=*/true);
    RequestPtr tight = DecodeAndCheck(body, kTight, &tight_err, /*track_allocations=*/false);
    if (tight) {
      FUZZ_CHECK(wide != nullptr, "accepted under tight limits, refused under wide ones: %s",
                 wide_err.status.ToString().c_str());
      CheckSameRequest(*wide, *tight);
    }
  }
  RunSession(data, size, /*frame_by_frame=*/false);
  RunSession(data, size, /*frame_by_frame=*/true);
  return 0;
}
