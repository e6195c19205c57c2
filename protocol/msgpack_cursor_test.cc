#include "protocol/msgpack_cursor.h"

#include <catch2/catch.hpp>
#include <msgpack.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace litestash {
namespace {

std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// One object of each MessagePack format family, in the exact encoding a host might send.
struct Sample {
  const char* name;
  std::string bytes;
  MsgKind kind;
};

std::vector<Sample> EveryFormat() {
  return {
      {"positive fixint", B({0x05}), MsgKind::kUint},
      {"uint8 (non-minimal)", B({0xcc, 0x05}), MsgKind::kUint},
      {"uint16", B({0xcd, 0x01, 0x00}), MsgKind::kUint},
      {"uint32", B({0xce, 0, 0, 1, 0}), MsgKind::kUint},
      {"uint64", B({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), MsgKind::kUint},
      {"negative fixint", B({0xff}), MsgKind::kInt},
      {"int8", B({0xd0, 0x80}), MsgKind::kInt},
      {"int16", B({0xd1, 0xff, 0x00}), MsgKind::kInt},
      {"int32", B({0xd2, 0xff, 0xff, 0xff, 0x00}), MsgKind::kInt},
      {"int64", B({0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}), MsgKind::kInt},
      {"nil", B({0xc0}), MsgKind::kNil},
      {"false", B({0xc2}), MsgKind::kBool},
      {"true", B({0xc3}), MsgKind::kBool},
      {"float32", B({0xca, 0x3f, 0xc0, 0x00, 0x00}), MsgKind::kFloat32},
      {"float64", B({0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}), MsgKind::kFloat64},
      {"fixstr", B({0xa3, 'a', 'b', 'c'}), MsgKind::kStr},
      {"str8 (non-minimal)", B({0xd9, 0x03, 'a', 'b', 'c'}), MsgKind::kStr},
      {"str16", B({0xda, 0x00, 0x02, 'h', 'i'}), MsgKind::kStr},
      {"str32", B({0xdb, 0, 0, 0, 0x01, 'x'}), MsgKind::kStr},
      {"bin8", B({0xc4, 0x02, 0x00, 0xff}), MsgKind::kBin},
      {"bin16", B({0xc5, 0x00, 0x01, 0x07}), MsgKind::kBin},
      {"bin32", B({0xc6, 0, 0, 0, 0x01, 0x07}), MsgKind::kBin},
      {"fixext1", B({0xd4, 0x01, 0xaa}), MsgKind::kExt},
      {"fixext2", B({0xd5, 0x01, 0xaa, 0xbb}), MsgKind::kExt},
      {"fixext4", B({0xd6, 0xff, 1, 2, 3, 4}), MsgKind::kExt},
      {"fixext8", B({0xd7, 0x02, 1, 2, 3, 4, 5, 6, 7, 8}), MsgKind::kExt},
      {"fixext16", B({0xd8, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}),
       MsgKind::kExt},
      {"ext8", B({0xc7, 0x03, 0x05, 1, 2, 3}), MsgKind::kExt},
      {"ext16", B({0xc8, 0x00, 0x01, 0x05, 9}), MsgKind::kExt},
      {"ext32", B({0xc9, 0, 0, 0, 0x01, 0x05, 9}), MsgKind::kExt},
      {"fixarray", B({0x92, 0x01, 0xa1, 'x'}), MsgKind::kArray},
      {"array16", B({0xdc, 0x00, 0x01, 0xc0}), MsgKind::kArray},
      {"array32", B({0xdd, 0, 0, 0, 0x01, 0xc3}), MsgKind::kArray},
      {"fixmap", B({0x81, 0xa1, 'k', 0x92, 0xca, 0x3f, 0x80, 0, 0, 0xc0}), MsgKind::kMap},
      {"map16", B({0xde, 0x00, 0x01, 0x01, 0x02}), MsgKind::kMap},
      {"map32", B({0xdf, 0, 0, 0, 0x01, 0xa0, 0x80}), MsgKind::kMap},
  };
}

TEST_CASE("Skip slices exactly one object of every format family") {
  for (const Sample& s : EveryFormat()) {
    INFO(s.name);
    const std::string buf = s.bytes + B({0xc0});  // something after it
    MsgpackCursor c(buf);
    std::string_view span;
    REQUIRE(c.Skip(&span));
    CHECK(span == s.bytes);
    CHECK(span.data() == buf.data());  // a view into the input, not a copy
    CHECK(c.remaining() == 1);
  }
}

TEST_CASE("ReadScalar reports the kind of every format family") {
  for (const Sample& s : EveryFormat()) {
    INFO(s.name);
    MsgpackCursor c(s.bytes);
    MsgScalar v;
    REQUIRE(c.ReadScalar(&v));
    CHECK(v.kind == s.kind);
    CHECK(c.at_end());
  }
}

TEST_CASE("ReadScalar decodes values") {
  MsgScalar v;
  const std::string u64 = B({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  const std::string str8 = B({0xd9, 0x03, 'a', 'b', 'c'});
  const std::string int8 = B({0xd0, 0x80});
  MsgpackCursor u(u64);
  REQUIRE(u.ReadScalar(&v));
  CHECK(v.u == UINT64_MAX);
  MsgpackCursor s(str8);
  REQUIRE(s.ReadScalar(&v));
  CHECK(v.bytes == "abc");
  MsgpackCursor i(int8);
  REQUIRE(i.ReadScalar(&v));
  CHECK(v.i == -128);
}

// The scalars ReadScalar and Skip read without msgpack-cxx must come out as msgpack-cxx reads
// them, at every width boundary of their encodings (packed by msgpack-cxx itself).
TEST_CASE("scalars read directly agree with msgpack-cxx at every width boundary") {
  std::vector<std::string> objects;
  auto pack = [&](auto&& fill) {
    std::stringstream out;
    msgpack::packer<std::stringstream> pk(out);
    fill(pk);
    objects.push_back(out.str());
  };
  for (uint64_t u :
       {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{255}, uint64_t{256}, uint64_t{65535},
        uint64_t{65536}, uint64_t{UINT32_MAX}, uint64_t{UINT32_MAX} + 1, uint64_t{UINT64_MAX}}) {
    pack([&](auto& pk) { pk.pack(u); });
  }
  for (int64_t i : {int64_t{-1}, int64_t{-32}, int64_t{-33}, int64_t{-129}, int64_t{INT64_MIN}}) {
    pack([&](auto& pk) { pk.pack(i); });
  }
  for (size_t n : {0, 1, 31, 32, 255, 256, 65535, 65536}) {
    const std::string text(n, 'k');
    pack([&](auto& pk) { pk.pack_str(static_cast<uint32_t>(n)).pack_str_body(text.data(), n); });
    pack([&](auto& pk) { pk.pack_bin(static_cast<uint32_t>(n)).pack_bin_body(text.data(), n); });
  }
  pack([](auto& pk) { pk.pack_nil(); });
  pack([](auto& pk) { pk.pack_true(); });
  pack([](auto& pk) { pk.pack_false(); });

  for (const std::string& bytes : objects) {
    const msgpack::object_handle ref = msgpack::unpack(bytes.data(), bytes.size());
    const msgpack::object& o = ref.get();
    INFO("type byte " << static_cast<int>(static_cast<unsigned char>(bytes[0])) << ", "
                      << bytes.size() << " bytes");
    MsgpackCursor c(bytes);
    MsgScalar v;
    REQUIRE(c.ReadScalar(&v));
    CHECK(c.at_end());
    switch (o.type) {
      case msgpack::type::POSITIVE_INTEGER:
        CHECK(v.kind == MsgKind::kUint);
        CHECK(v.u == o.via.u64);
        break;
      case msgpack::type::NEGATIVE_INTEGER:
        CHECK(v.kind == MsgKind::kInt);
        CHECK(v.i == o.via.i64);
        break;
      case msgpack::type::STR:
        CHECK(v.kind == MsgKind::kStr);
        CHECK(v.bytes == std::string_view(o.via.str.ptr, o.via.str.size));
        break;
      case msgpack::type::BIN:
        CHECK(v.kind == MsgKind::kBin);
        CHECK(v.bytes == std::string_view(o.via.bin.ptr, o.via.bin.size));
        break;
      case msgpack::type::NIL:
        CHECK(v.kind == MsgKind::kNil);
        break;
      case msgpack::type::BOOLEAN:
        CHECK(v.kind == MsgKind::kBool);
        CHECK(v.b == o.via.boolean);
        break;
      default:
        FAIL("unexpected type");
    }
    MsgpackCursor skip(bytes);
    std::string_view span;
    REQUIRE(skip.Skip(&span));
    CHECK(span.size() == bytes.size());
    for (size_t n = 0; n < bytes.size(); n += 1 + n / 3) {  // truncations are refused
      MsgpackCursor cut(bytes.data(), n);
      CHECK_FALSE(cut.ReadScalar(&v));
      CHECK_FALSE(cut.Skip(&span));
      CHECK(cut.offset() == 0);
    }
  }
}

TEST_CASE("every truncation of every sample is refused without consuming") {
  for (const Sample& s : EveryFormat()) {
    for (size_t n = 0; n < s.bytes.size(); ++n) {
      INFO(s.name << " cut at " << n);
      MsgpackCursor c(s.bytes.data(), n);
      std::string_view span;
      CHECK_FALSE(c.Skip(&span));
      CHECK(c.offset() == 0);
    }
  }
}

TEST_CASE("the reserved byte 0xc1 is malformed") {
  const std::string reserved = B({0xc1});
  MsgpackCursor c(reserved);
  std::string_view span;
  CHECK_FALSE(c.Skip(&span));
  uint32_t n;
  bool malformed = false;
  MsgpackCursor m(reserved);
  CHECK_FALSE(m.ReadMapHeader(&n, &malformed));
  CHECK(malformed);
}

TEST_CASE("declared sizes beyond the input are refused before use") {
  std::string_view span;
  uint32_t n = 0;
  bool malformed = false;
  // array32 claiming 4 billion elements in a 6-byte buffer.
  const std::string huge_array = B({0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0});
  CHECK_FALSE(MsgpackCursor(huge_array).Skip(&span));
  MsgpackCursor a(huge_array);
  CHECK_FALSE(a.ReadArrayHeader(&n, &malformed));
  CHECK(malformed);
  // map32 claiming 2^31 pairs.
  CHECK_FALSE(MsgpackCursor(B({0xdf, 0x80, 0, 0, 0, 0xc0, 0xc0})).Skip(&span));
  // str32 / bin32 / ext32 claiming 4 GiB.
  CHECK_FALSE(MsgpackCursor(B({0xdb, 0xff, 0xff, 0xff, 0xff, 'a'})).Skip(&span));
  CHECK_FALSE(MsgpackCursor(B({0xc6, 0xff, 0xff, 0xff, 0xff, 'a'})).Skip(&span));
  CHECK_FALSE(MsgpackCursor(B({0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'a'})).Skip(&span));
  // A nested array whose inner count lies.
  CHECK_FALSE(MsgpackCursor(B({0x91, 0xdd, 0x00, 0x10, 0x00, 0x00})).Skip(&span));
}

TEST_CASE("nesting is bounded") {
  std::string ok(kMaxDepth, static_cast<char>(0x91));
  ok.push_back(static_cast<char>(0xc0));
  std::string_view span;
  CHECK(MsgpackCursor(ok).Skip(&span));
  std::string deep(kMaxDepth + 1, static_cast<char>(0x91));
  deep.push_back(static_cast<char>(0xc0));
  CHECK_FALSE(MsgpackCursor(deep).Skip(&span));
  // 1 MiB of nested arrays: refused quickly, no stack growth.
  std::string very_deep(1 << 20, static_cast<char>(0x91));
  CHECK_FALSE(MsgpackCursor(very_deep).Skip(&span));
}

TEST_CASE("container headers") {
  uint32_t n = 0;
  bool malformed = true;
  const std::string fixmap = B({0x82, 0xa1, 'a', 1, 0xa1, 'b', 2});
  const std::string map16 = B({0xde, 0x00, 0x01, 0xa1, 'a', 1});
  const std::string array = B({0x91, 0x01});
  MsgpackCursor fix(fixmap);
  REQUIRE(fix.ReadMapHeader(&n, &malformed));
  CHECK(n == 2);
  CHECK(fix.offset() == 1);
  MsgpackCursor m16(map16);
  REQUIRE(m16.ReadMapHeader(&n, &malformed));
  CHECK(n == 1);
  CHECK(m16.offset() == 3);
  MsgpackCursor not_map(array);
  CHECK_FALSE(not_map.ReadMapHeader(&n, &malformed));
  CHECK_FALSE(malformed);
  CHECK(not_map.offset() == 0);
  REQUIRE(not_map.ReadArrayHeader(&n, &malformed));
  CHECK(n == 1);
  MsgpackCursor empty("");
  CHECK_FALSE(empty.ReadArrayHeader(&n, &malformed));
  CHECK(malformed);
}

}  // namespace
}  // namespace litestash
