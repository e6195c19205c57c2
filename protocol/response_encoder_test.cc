#include "protocol/response_encoder.h"

#include <catch2/catch.hpp>

#include "protocol/test_frames.h"

namespace litestash {
namespace {

TEST_CASE("a success answer has the length prefix and the id/ok fields") {
  ResponseEncoder enc;
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
  ResponseEncoder enc;
  enc.BeginOk(1, 1);
  enc.Key("value");
  enc.Raw(raw);
  const std::string frame = enc.Finish();
  CHECK(frame.substr(frame.size() - raw.size()) == raw);
  auto oh = testing::Answer(frame);
  CHECK(oh.get().via.map.ptr[2].val.as<std::string>() == "abc");
}

TEST_CASE("error answers carry code, message and a nil id when unknown") {
  const std::string with_id = EncodeError(9, Status(ErrorCode::kWrongShard, "nope"));
  CHECK(testing::AnswerCode(with_id) == "wrong_shard");
  auto oh = testing::Answer(with_id);
  auto m = oh.get().as<std::map<std::string, msgpack::object>>();
  CHECK(m.at("id").as<uint64_t>() == 9);
  CHECK(m.at("ok").as<bool>() == false);
  const std::string without = EncodeError(std::nullopt, Status(ErrorCode::kBadFrame, "x"));
  auto nil = testing::Answer(without);
  CHECK(nil.get().as<std::map<std::string, msgpack::object>>().at("id").is_nil());
}

TEST_CASE("Reset and Finish leave the encoder reusable") {
  ResponseEncoder enc;
  enc.BeginOk(1, 0);
  enc.Reset();
  enc.BeginOk(2, 0);
  const std::string a = enc.Finish();
  enc.BeginOk(2, 0);
  CHECK(enc.Finish() == a);
}

}  // namespace
}  // namespace litestash
