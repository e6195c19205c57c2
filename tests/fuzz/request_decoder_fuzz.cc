// libFuzzer target: protocol/request_decoder (DecodeRequest) and protocol/session (Session).
//
// The input is used twice.
// 1. As one frame body for DecodeRequest (against the engine's real command rows,
//    engine/command_registry.h), under two sets of limits: kWide (the engine's defaults, 1 MiB
//    frames) and kTight (8-byte keys, 24-byte values, so short inputs reach the key-rule and
//    value-size paths). Checks:
//    - success: the frame is walked field by field with msgpack-cxx's object unpacker (not the
//      decoder's cursor) and every field the map holds must be one the op declares, decoded into
//      its slot or list: keys obey the key rules (independent UTF-8 validator) and equal the
//      frame's str; `value` and every entry value are byte for byte the span the frame holds for
//      them and re-parse as exactly one object within max_value_bytes; uints are in their
//      spec's range and equal the frame's; arrays (keys, entries, ids, checks, nested ops) have
//      the frame's count and items, nested ops checked the same way against their own maps; no
//      slot or list the op does not declare is set; route_key and shard agree with the fields;
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

#include "engine/command_registry.h"
#include "protocol/request_decoder.h"
#include "protocol/frame_encoder.h"
#include "protocol/session.h"
#include "protocol/wire_error.h"
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

const OpCatalog& Ops() { return StandardRegistry().catalog(); }

bool Inside(const Request& r, std::string_view v, std::string_view frame) {
  if (v.data() == nullptr) return v.empty();
  return v.data() >= frame.data() && v.data() + v.size() <= frame.data() + frame.size();
}

void CheckKey(std::string_view frame, std::string_view key, const Limits& limits,
              const std::string& what) {
  FUZZ_CHECK(key.data() >= frame.data() && key.data() + key.size() <= frame.data() + frame.size(),
             "%s is not inside the frame", what.c_str());
  FUZZ_CHECK(!key.empty() && key.size() <= limits.max_key_bytes && IsStrictUtf8(key),
             "%s breaks the key rules: %zu bytes '%.*s'", what.c_str(), key.size(),
             int(key.size()), key.data());
}

void CheckValue(std::string_view frame, std::string_view value, const Limits& limits,
                const std::string& what) {
  FUZZ_CHECK(value.data() >= frame.data() &&
                 value.data() + value.size() <= frame.data() + frame.size(),
             "%s is not inside the frame", what.c_str());
  FUZZ_CHECK(value.size() <= limits.max_value_bytes, "%s is %zu bytes, limit %zu", what.c_str(),
             value.size(), limits.max_value_bytes);
  FUZZ_CHECK(ParsesAsOneObject(value), "%s (%zu bytes) is not exactly one MessagePack object",
             what.c_str(), value.size());
}

// Raw byte spans cut with msgpack-cxx's object unpacker (not the decoder's cursor): the next
// object starting at `*off` within `bytes`.
std::string_view NextSpan(std::string_view bytes, size_t* off, msgpack::object_handle* oh) {
  const size_t begin = *off;
  try {
    *oh = msgpack::unpack(bytes.data(), bytes.size(), *off);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "accepted bytes do not unpack: %s", e.what());
  }
  return bytes.substr(begin, *off - begin);
}

// The header of an array or map at `*off`: its element count (advancing past the header).
uint32_t ContainerHeader(std::string_view bytes, size_t* off, bool map) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + *off);
  const unsigned fix = map ? 0x80 : 0x90, w16 = map ? 0xde : 0xdc;
  if ((p[0] & 0xf0) == fix) return (*off += 1, p[0] & 0x0f);
  if (p[0] == w16) return (*off += 3, (uint32_t{p[1]} << 8) | p[2]);
  FUZZ_CHECK(p[0] == w16 + 1, "not a %s header: 0x%02x", map ? "map" : "array", p[0]);
  *off += 5;
  return (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | p[4];
}

void CheckRequestMap(const Request& r, std::string_view frame, std::string_view map_bytes,
                     const Limits& limits, bool top);

// One decoded field against its raw span in the frame (cut independently), by type.
void CheckField(const Request& r, std::string_view frame, const FieldSpec& f,
                const Request::Slot& slot, std::string_view raw, const Limits& limits) {
  const std::string name(f.name);
  msgpack::object_handle oh;
  size_t off = 0;
  NextSpan(raw, &off, &oh);
  const msgpack::object& o = oh.get();
  switch (f.type) {
    case FieldType::kKey:
      CheckKey(frame, slot.bytes, limits, name);
      FUZZ_CHECK(o.type == msgpack::type::STR && StrOf(o) == slot.bytes, "%s differs",
                 name.c_str());
      break;
    case FieldType::kValue:
      CheckValue(frame, slot.bytes, limits, name);
      FUZZ_CHECK(slot.bytes == raw, "%s: decoded %zu bytes, the frame holds %zu", name.c_str(),
                 slot.bytes.size(), raw.size());
      break;
    case FieldType::kUint:
      FUZZ_CHECK(o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 == slot.u, "%s differs",
                 name.c_str());
      FUZZ_CHECK(slot.u >= f.min && slot.u <= f.max, "%s %llu accepted out of range",
                 name.c_str(), (unsigned long long)slot.u);
      break;
    case FieldType::kText:
    case FieldType::kPath: {
      const size_t max = f.type == FieldType::kText ? limits.max_key_bytes : 4096;
      FUZZ_CHECK(Inside(r, slot.bytes, frame) && slot.bytes.size() <= max &&
                     IsStrictUtf8(slot.bytes) && (f.type == FieldType::kText || !slot.bytes.empty()),
                 "bad %s", name.c_str());
      FUZZ_CHECK(o.type == msgpack::type::STR && StrOf(o) == slot.bytes, "%s differs",
                 name.c_str());
      break;
    }
    case FieldType::kKeyArray: {
      FUZZ_CHECK(o.type == msgpack::type::ARRAY && o.via.array.size == r.keys.size(),
                 "%s count differs", name.c_str());
      for (size_t k = 0; k < r.keys.size(); ++k) {
        CheckKey(frame, r.keys[k], limits, name + "[i]");
        const msgpack::object& item = o.via.array.ptr[k];
        FUZZ_CHECK(item.type == msgpack::type::STR && StrOf(item) == r.keys[k], "%s[%zu] differs",
                   name.c_str(), k);
      }
      break;
    }
    case FieldType::kUintArray: {
      FUZZ_CHECK(o.type == msgpack::type::ARRAY && o.via.array.size == r.uints.size(),
                 "%s count differs", name.c_str());
      for (size_t k = 0; k < r.uints.size(); ++k) {
        const msgpack::object& item = o.via.array.ptr[k];
        FUZZ_CHECK(item.type == msgpack::type::POSITIVE_INTEGER && item.via.u64 == r.uints[k],
                   "%s[%zu] differs", name.c_str(), k);
      }
      break;
    }
    case FieldType::kEntries:
    case FieldType::kChecks: {
      const bool entries = f.type == FieldType::kEntries;
      const size_t n = entries ? r.entries.size() : r.checks.size();
      size_t at = 0;
      FUZZ_CHECK(ContainerHeader(raw, &at, false) == n, "%s count differs", name.c_str());
      for (size_t k = 0; k < n; ++k) {
        FUZZ_CHECK(ContainerHeader(raw, &at, false) == 2, "%s[%zu] is not a pair", name.c_str(), k);
        msgpack::object_handle key_oh, second_oh;
        NextSpan(raw, &at, &key_oh);
        const std::string_view second = NextSpan(raw, &at, &second_oh);
        const std::string_view key = entries ? r.entries[k].first : r.checks[k].first;
        CheckKey(frame, key, limits, name + "[i] key");
        FUZZ_CHECK(key_oh.get().type == msgpack::type::STR && StrOf(key_oh.get()) == key,
                   "%s[%zu] key differs", name.c_str(), k);
        if (entries) {
          CheckValue(frame, r.entries[k].second, limits, name + "[i] value");
          FUZZ_CHECK(r.entries[k].second == second, "%s[%zu] value differs from the frame's bytes",
                     name.c_str(), k);
        } else {
          FUZZ_CHECK(second_oh.get().type == msgpack::type::POSITIVE_INTEGER &&
                         second_oh.get().via.u64 == r.checks[k].second,
                     "%s[%zu] version differs", name.c_str(), k);
        }
      }
      break;
    }
    case FieldType::kOps: {
      size_t at = 0;
      const uint32_t n = ContainerHeader(raw, &at, false);
      FUZZ_CHECK(n == r.ops.size() && n >= 1 && n <= f.max_items, "%s count differs",
                 name.c_str());
      for (uint32_t k = 0; k < n; ++k) {
        msgpack::object_handle item;
        const std::string_view nested = NextSpan(raw, &at, &item);
        FUZZ_CHECK(r.ops[k]->frame.empty() && r.ops[k]->id == r.id, "nested op %u owns bytes", k);
        FUZZ_CHECK(Ops().Nested(*r.schema, r.ops[k]->schema->name) == r.ops[k]->schema,
                   "nested op %u is not one the op allows", k);
        CheckRequestMap(*r.ops[k], frame, nested, limits, /*top=*/false);
      }
      break;
    }
  }
}

// Checks a decoded request (or nested op) against the map it came from, field by field.
void CheckRequestMap(const Request& r, std::string_view frame, std::string_view map_bytes,
                     const Limits& limits, bool top) {
  const OpSchema& schema = *r.schema;
  FUZZ_CHECK(schema.fields.size() <= kMaxFieldsPerOp, "schema too wide");
  for (size_t i = schema.fields.size(); i < kMaxFieldsPerOp; ++i) {
    FUZZ_CHECK(!r.slots[i].present, "slot %zu set beyond the schema", i);
  }
  bool list[5] = {};
  for (const FieldSpec& f : schema.fields) {
    if (f.type == FieldType::kKeyArray) list[0] = true;
    if (f.type == FieldType::kEntries) list[1] = true;
    if (f.type == FieldType::kUintArray) list[2] = true;
    if (f.type == FieldType::kChecks) list[3] = true;
    if (f.type == FieldType::kOps) list[4] = true;
  }
  FUZZ_CHECK((list[0] || r.keys.empty()) && (list[1] || r.entries.empty()) &&
                 (list[2] || r.uints.empty()) && (list[3] || r.checks.empty()) &&
                 (list[4] || r.ops.empty()),
             "a list the op does not declare holds items");
  // Walk the map: every field the decoder accepted, and nothing else.
  size_t off = 0;
  const uint32_t count = ContainerHeader(map_bytes, &off, true);
  std::vector<std::string> names;  // copies: the unpacked objects die with each iteration
  size_t seen_fields = 0;
  for (uint32_t i = 0; i < count; ++i) {
    msgpack::object_handle key_oh, value_oh;
    NextSpan(map_bytes, &off, &key_oh);
    const std::string_view raw = NextSpan(map_bytes, &off, &value_oh);
    FUZZ_CHECK(key_oh.get().type == msgpack::type::STR, "accepted a non-str field name");
    const std::string_view name = StrOf(key_oh.get());
    for (const std::string& seen : names) FUZZ_CHECK(seen != name, "accepted a duplicate field");
    names.emplace_back(name);
    const msgpack::object& v = value_oh.get();
    if (name == "id") {
      FUZZ_CHECK(top && v.type == msgpack::type::POSITIVE_INTEGER && v.via.u64 == r.id,
                 "id differs (or in a nested op)");
    } else if (name == "op") {
      FUZZ_CHECK(v.type == msgpack::type::STR && StrOf(v) == schema.name, "op differs");
    } else {
      const int idx = schema.FieldIndex(name);
      FUZZ_CHECK(idx >= 0, "accepted field '%.*s' the op does not declare", int(name.size()),
                 name.data());
      FUZZ_CHECK(r.slots[idx].present, "field '%.*s' sent but not decoded", int(name.size()),
                 name.data());
      CheckField(r, frame, schema.fields[idx], r.slots[idx], raw, limits);
      ++seen_fields;
    }
  }
  FUZZ_CHECK(off == map_bytes.size(), "accepted map has %zu trailing bytes",
             map_bytes.size() - off);
  size_t present = 0;
  for (size_t i = 0; i < schema.fields.size(); ++i) {
    present += r.slots[i].present;
    FUZZ_CHECK(!schema.fields[i].required || r.slots[i].present, "required field missing");
  }
  FUZZ_CHECK(present == seen_fields, "%zu fields decoded, %zu sent", present, seen_fields);
  if (!schema.route_field.empty()) {
    FUZZ_CHECK(r.route_key == r.Bytes(schema.route_field), "route_key differs");
  }
  const int shard = schema.FieldIndex("shard");
  FUZZ_CHECK(shard >= 0 ? r.shard == (r.slots[shard].present ? std::optional(r.slots[shard].u)
                                                               : std::nullopt)
                        : !r.shard.has_value(),
             "shard differs");
}

void CheckRequest(const Request& r, const Limits& limits) {
  FUZZ_CHECK(!r.frame.empty() && r.frame.size() <= limits.max_frame_bytes, "frame of %zu bytes",
             r.frame.size());
  FUZZ_CHECK(Ops().Find(r.schema->name) == r.schema, "schema is not the catalog's");
  CheckRequestMap(r, r.frame, r.frame, limits, /*top=*/true);
}

// Offsets of a view within its frame, for comparing two decodes of the same bytes.
std::pair<ptrdiff_t, size_t> Where(std::string_view frame, std::string_view v) {
  return {v.data() ? v.data() - frame.data() : -1, v.size()};
}

void CheckSameRequest(const Request& a, std::string_view fa, const Request& b, std::string_view fb) {
  FUZZ_CHECK(a.id == b.id && a.schema == b.schema && a.shard == b.shard &&
                 a.keys.size() == b.keys.size() && a.entries.size() == b.entries.size() &&
                 a.uints == b.uints && a.checks.size() == b.checks.size() &&
                 a.ops.size() == b.ops.size() && Where(fa, a.route_key) == Where(fb, b.route_key),
             "decodes under tight and wide limits differ");
  for (size_t i = 0; i < kMaxFieldsPerOp; ++i) {
    FUZZ_CHECK(a.slots[i].present == b.slots[i].present && a.slots[i].u == b.slots[i].u &&
                   Where(fa, a.slots[i].bytes) == Where(fb, b.slots[i].bytes),
               "field %zu differs between limits", i);
  }
  for (size_t i = 0; i < a.keys.size(); ++i) {
    FUZZ_CHECK(Where(fa, a.keys[i]) == Where(fb, b.keys[i]), "keys differ between limits");
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    FUZZ_CHECK(Where(fa, a.entries[i].first) == Where(fb, b.entries[i].first) &&
                   Where(fa, a.entries[i].second) == Where(fb, b.entries[i].second),
               "entries differ between limits");
  }
  for (size_t i = 0; i < a.checks.size(); ++i) {
    FUZZ_CHECK(Where(fa, a.checks[i].first) == Where(fb, b.checks[i].first) &&
                   a.checks[i].second == b.checks[i].second,
               "checks differ between limits");
  }
  for (size_t i = 0; i < a.ops.size(); ++i) CheckSameRequest(*a.ops[i], fa, *b.ops[i], fb);
}

void CheckDecodeError(const DecodeError& err) {
  const StatusCode c = err.status.code();
  FUZZ_CHECK(c == StatusCode::kInvalidArgument || c == StatusCode::kWrongType ||
                 c == StatusCode::kUnknownOp || c == StatusCode::kInvalidKey ||
                 c == StatusCode::kTooLarge,
             "DecodeRequest failed with code %d", int(c));
  const auto answer = CheckErrorFrame(EncodeError(err.id, err.status));
  FUZZ_CHECK(answer.code == WireErrorCode(c) && answer.id == err.id, "answer differs from error");
}

// DecodeRequest plus every check of part 1 that needs only one decode.
RequestPtr DecodeAndCheck(std::string_view body, const Limits& limits, DecodeError* err,
                          bool track_allocations) {
  std::string frame(body);
  g_largest_alloc = 0;
  g_tracking = track_allocations;
  RequestPtr req = DecodeRequest(std::move(frame), Ops(), limits, err);
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
  Session session(Ops(), kStream, &sinks, &sinks);
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
        RequestPtr req = DecodeRequest(std::string(f.body), Ops(), kStream, &err);
        if (req) {
          FUZZ_CHECK(c.submitted && c.id == req->id, "frame %zu: valid request not submitted", i);
        } else {
          FUZZ_CHECK(!c.submitted && c.code == WireErrorCode(err.status.code()) && c.id == err.id,
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
      CheckSameRequest(*wide, wide->frame, *tight, tight->frame);
    }
  }
  RunSession(data, size, /*frame_by_frame=*/false);
  RunSession(data, size, /*frame_by_frame=*/true);
  return 0;
}
