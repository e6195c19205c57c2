// Shared helpers of the libFuzzer targets in tests/fuzz/ (header-only, test code only).
//
// - FUZZ_CHECK(cond, fmt, ...): an invariant check that stays on in release builds (NDEBUG) and
//   aborts with a message, so libFuzzer records the input as a crash.
// - CheckEnabled(name): the few "policy" checks (see README.md) can be switched off while a
//   known bug is open with env FUZZ_SKIP_CHECKS=name1,name2; memory errors never can.
// - IsStrictUtf8(): an RFC 3629 validator written independently of common/utf8.cc, so the two
//   are not wrong in the same way.
// - ReferenceFrames(): a deliberately naive, whole-buffer model of the transport framing that
//   the incremental FrameReader / Session are compared against.
// - SplitRng: a tiny deterministic generator for chunk sizes derived from the input.
// - CheckErrorFrame(): validates one error answer as the contract shapes it.
// - ParsesAsOneObject(): re-parses bytes with msgpack-cxx's full unpacker.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond, ...)                                                            \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                 \
      std::fprintf(stderr, "\n");                                                        \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace litestash::fuzz {

// False when `name` is listed in env FUZZ_SKIP_CHECKS (comma separated).
inline bool CheckEnabled(std::string_view name) {
  static const std::string skip = [] {
    const char* s = std::getenv("FUZZ_SKIP_CHECKS");
    return "," + std::string(s ? s : "") + ",";
  }();
  return skip.find("," + std::string(name) + ",") == std::string::npos;
}

// RFC 3629 / Unicode table 3-7 "well-formed UTF-8 byte sequences", range by range.
inline bool IsStrictUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, n = s.size();
  auto in = [&](size_t k, unsigned lo, unsigned hi) { return k < n && p[k] >= lo && p[k] <= hi; };
  while (i < n) {
    const unsigned c = p[i];
    if (c <= 0x7F) {
      i += 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!in(i + 1, 0x80, 0xBF)) return false;
      i += 2;
    } else if (c == 0xE0) {
      if (!in(i + 1, 0xA0, 0xBF) || !in(i + 2, 0x80, 0xBF)) return false;
      i += 3;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      if (!in(i + 1, 0x80, 0xBF) || !in(i + 2, 0x80, 0xBF)) return false;
      i += 3;
    } else if (c == 0xED) {
      if (!in(i + 1, 0x80, 0x9F) || !in(i + 2, 0x80, 0xBF)) return false;
      i += 3;
    } else if (c == 0xF0) {
      if (!in(i + 1, 0x90, 0xBF) || !in(i + 2, 0x80, 0xBF) || !in(i + 3, 0x80, 0xBF)) return false;
      i += 4;
    } else if (c >= 0xF1 && c <= 0xF3) {
      if (!in(i + 1, 0x80, 0xBF) || !in(i + 2, 0x80, 0xBF) || !in(i + 3, 0x80, 0xBF)) return false;
      i += 4;
    } else if (c == 0xF4) {
      if (!in(i + 1, 0x80, 0x8F) || !in(i + 2, 0x80, 0xBF) || !in(i + 3, 0x80, 0xBF)) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

// One frame as the naive model sees it.
struct RefFrame {
  enum Kind { kBody, kZero, kTooLarge } kind;
  uint64_t length;    // the header's value
  size_t header_end;  // stream offset just past the header (kTooLarge/kZero are reported here)
  size_t end;         // stream offset just past the frame (header + body)
  std::string_view body;  // kBody only
};

struct RefStream {
  std::vector<RefFrame> frames;  // every frame whose event is due (complete, or announced)
  std::vector<size_t> boundaries;  // offsets at which no frame is in progress, ascending
  bool partial = false;            // the stream ends inside a frame
};

// Splits a whole stream into frames the simple way: header, length, body.
inline RefStream ReferenceFrames(std::string_view s, uint64_t max_frame) {
  RefStream out;
  size_t pos = 0;
  out.boundaries.push_back(0);
  while (pos < s.size()) {
    if (s.size() - pos < 4) {
      out.partial = true;
      break;
    }
    const auto* h = reinterpret_cast<const unsigned char*>(s.data() + pos);
    const uint64_t len = (uint64_t{h[0]} << 24) | (uint64_t{h[1]} << 16) | (uint64_t{h[2]} << 8) | h[3];
    const size_t header_end = pos + 4;
    const bool complete = s.size() - header_end >= len;
    const size_t end = complete ? header_end + len : s.size();
    if (len == 0) {
      out.frames.push_back({RefFrame::kZero, 0, header_end, header_end, {}});
    } else if (len > max_frame) {
      out.frames.push_back({RefFrame::kTooLarge, len, header_end, end, {}});
    } else if (complete) {
      out.frames.push_back({RefFrame::kBody, len, header_end, end, s.substr(header_end, len)});
    }
    if (!complete) {
      out.partial = true;
      break;
    }
    pos = end;
    out.boundaries.push_back(pos);
  }
  return out;
}

// xorshift64*; deterministic chunk sizes derived from the input.
struct SplitRng {
  uint64_t state;
  explicit SplitRng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    if (state == 0) state = 1;
  }
  uint64_t Next() {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Dull;
  }
  // Mostly small chunks (header splits), sometimes larger ones.
  size_t Chunk() {
    const uint64_t r = Next();
    return 1 + static_cast<size_t>((r >> 8) % ((r & 3) == 0 ? 512 : 7));
  }
};

inline uint64_t Fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
  return h;
}

// True when `bytes` hold exactly one well-formed MessagePack object (msgpack-cxx's unpacker,
// which builds the whole object: call it only on bytes already bounded by the decoder).
inline bool ParsesAsOneObject(std::string_view bytes) {
  if (bytes.empty()) return false;
  try {
    size_t off = 0;
    msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size(), off);
    return off == bytes.size();
  } catch (const std::exception&) {
    return false;
  }
}

inline std::string_view StrOf(const msgpack::object& o) {
  return o.type == msgpack::type::STR ? std::string_view(o.via.str.ptr, o.via.str.size)
                                      : std::string_view();
}

struct ErrorAnswer {
  std::optional<uint64_t> id;
  std::string code;
};

// Checks one error answer frame: 4-byte big-endian prefix equal to the body size; the body is
// exactly one map {"id": nil|uint, "ok": false, "error": {"code": str, "message": str}} whose
// strings are valid UTF-8 (MessagePack str is UTF-8 by spec; strict host decoders, e.g. Python's
// msgpack with raw=False, refuse anything else).
inline ErrorAnswer CheckErrorFrame(const std::string& frame) {
  FUZZ_CHECK(frame.size() >= 5, "answer frame of %zu bytes", frame.size());
  const auto* h = reinterpret_cast<const unsigned char*>(frame.data());
  const uint64_t len = (uint64_t{h[0]} << 24) | (uint64_t{h[1]} << 16) | (uint64_t{h[2]} << 8) | h[3];
  FUZZ_CHECK(len == frame.size() - 4, "prefix %llu, body %zu", (unsigned long long)len,
             frame.size() - 4);
  const std::string_view body(frame.data() + 4, frame.size() - 4);
  FUZZ_CHECK(ParsesAsOneObject(body), "answer body is not exactly one MessagePack object");
  size_t off = 0;
  msgpack::object_handle oh = msgpack::unpack(body.data(), body.size(), off);
  const msgpack::object& m = oh.get();
  FUZZ_CHECK(m.type == msgpack::type::MAP && m.via.map.size == 3, "answer is not a 3-entry map");
  ErrorAnswer out;
  bool seen_id = false, seen_ok = false, seen_error = false;
  for (uint32_t i = 0; i < m.via.map.size; ++i) {
    const auto& kv = m.via.map.ptr[i];
    const std::string_view k = StrOf(kv.key);
    if (k == "id") {
      seen_id = true;
      FUZZ_CHECK(kv.val.type == msgpack::type::NIL ||
                     kv.val.type == msgpack::type::POSITIVE_INTEGER,
                 "answer id has type %d", int(kv.val.type));
      if (kv.val.type == msgpack::type::POSITIVE_INTEGER) out.id = kv.val.via.u64;
    } else if (k == "ok") {
      seen_ok = true;
      FUZZ_CHECK(kv.val.type == msgpack::type::BOOLEAN && !kv.val.via.boolean, "ok is not false");
    } else if (k == "error") {
      seen_error = true;
      const auto& e = kv.val;
      FUZZ_CHECK(e.type == msgpack::type::MAP && e.via.map.size == 2, "error is not a 2-entry map");
      bool seen_code = false, seen_message = false;
      for (uint32_t j = 0; j < 2; ++j) {
        const auto& f = e.via.map.ptr[j];
        const std::string_view fk = StrOf(f.key);
        FUZZ_CHECK(f.val.type == msgpack::type::STR, "error.%.*s is not a str", int(fk.size()),
                   fk.data());
        const std::string_view v = StrOf(f.val);
        if (CheckEnabled("error_utf8")) {
          FUZZ_CHECK(IsStrictUtf8(v), "error.%.*s is not valid UTF-8: '%.*s'", int(fk.size()),
                     fk.data(), int(v.size()), v.data());
        }
        if (fk == "code") {
          seen_code = true;
          out.code = std::string(v);
        } else if (fk == "message") {
          seen_message = true;
          FUZZ_CHECK(!v.empty(), "empty error message");
        }
      }
      FUZZ_CHECK(seen_code && seen_message, "error lacks code or message");
    }
  }
  FUZZ_CHECK(seen_id && seen_ok && seen_error, "answer lacks id, ok or error");
  return out;
}

}  // namespace litestash::fuzz
