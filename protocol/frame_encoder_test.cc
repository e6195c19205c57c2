#include "protocol/frame_encoder.h"

#include <catch2/catch.hpp>

#include "protocol/test_frames.h"

namespace litestash {
namespace {

TEST_CASE("a success answer has the length prefix and the id/ok fields") {
  FrameEncoder enc;
  enc.BeginOk(42, 1);
  enc.Key("found");
  enc.Bool(false);
  const std::string frame = enc.Finish();
  // 83 a2 'id' 2a a2 'ok' c3 a5 'found' c2
  const std::string body(
      "\x83\xa2id\x2a\xa2ok\xc3\xa5"
      "found\xc2",
      16);
  CHECK(frame.substr(4) == body);
  CHECK(frame.substr(0, 4) == std::string("\0\0\0\x10", 4));
}

TEST_CASE("raw values are copied verbatim") {
  const std::string raw(
      "\xd9\x03"
      "abc",
      5);  // str8 header for a 3-byte string
  FrameEncoder enc;
  enc.BeginOk(1, 1);
  enc.Key("value");
  enc.Raw(raw);
  const std::string frame = enc.Finish();
  CHECK(frame.substr(frame.size() - raw.size()) == raw);
  auto oh = testing::Answer(frame);
  CHECK(oh.get().via.map.ptr[2].val.as<std::string>() == "abc");
}

TEST_CASE("error answers carry code, message and a nil id when unknown") {
  const std::string with_id = EncodeError(9, Status(StatusCode::kWrongShard, "nope"));
  CHECK(testing::AnswerCode(with_id) == "wrong_shard");
  auto oh = testing::Answer(with_id);
  auto m = oh.get().as<std::map<std::string, msgpack::object>>();
  CHECK(m.at("id").as<uint64_t>() == 9);
  CHECK(m.at("ok").as<bool>() == false);
  const std::string without = EncodeError(std::nullopt, Status(StatusCode::kBadFrame, "x"));
  auto nil = testing::Answer(without);
  CHECK(nil.get().as<std::map<std::string, msgpack::object>>().at("id").is_nil());
}

TEST_CASE("a conflict answer carries the current version, and the key when known") {
  const std::string cas = EncodeError(3, Status::Conflict("version 5 expected", 7));
  auto oh = testing::Answer(cas);
  auto err = oh.get().as<std::map<std::string, msgpack::object>>().at("error")
                 .as<std::map<std::string, msgpack::object>>();
  CHECK(err.at("code").as<std::string>() == "conflict");
  CHECK(err.at("version").as<uint64_t>() == 7);
  CHECK(err.count("key") == 0);
  const std::string txn = EncodeError(4, Status::Conflict("check failed", 0, std::string("k")));
  auto oh2 = testing::Answer(txn);
  auto err2 = oh2.get().as<std::map<std::string, msgpack::object>>().at("error")
                  .as<std::map<std::string, msgpack::object>>();
  CHECK(err2.at("key").as<std::string>() == "k");
  CHECK(err2.at("version").as<uint64_t>() == 0);
  CHECK(err2.size() == 4);
}

TEST_CASE("Reset and Finish leave the encoder reusable") {
  FrameEncoder enc;
  enc.BeginOk(1, 0);
  enc.Reset();
  enc.BeginOk(2, 0);
  const std::string a = enc.Finish();
  enc.BeginOk(2, 0);
  CHECK(enc.Finish() == a);
}

}  // namespace
}  // namespace litestash
