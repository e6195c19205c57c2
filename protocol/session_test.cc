// Session against stub sinks: no SQLite, no engine.
#include "protocol/session.h"

#include <catch2/catch.hpp>
#include <msgpack.hpp>
#include <vector>

#include "protocol/test_catalog.h"
#include "protocol/test_frames.h"

namespace litestash {
namespace {

using testing::AnswerCode;
using testing::Frame;

struct StubRequests : RequestSink {
  std::vector<RequestPtr> got;
  void Submit(RequestPtr r) override { got.push_back(std::move(r)); }
};
struct StubFrames : FrameSink {
  std::vector<std::string> got;
  void Send(std::string f) override { got.push_back(std::move(f)); }
};

std::string Ping(uint64_t id) {
  return testing::PackMap(2, [id](auto& pk) {
    pk.pack(std::string("id"));
    pk.pack(id);
    pk.pack(std::string("op"));
    pk.pack(std::string("ping"));
  });
}

TEST_CASE("each frame yields exactly one sink call, in order") {
  Limits limits;
  limits.max_frame_bytes = 100;
  StubRequests requests;
  StubFrames frames;
  Session s(testing::TestCatalog(), limits, &requests, &frames);
  const std::string stream = Frame(Ping(1)) + std::string(4, '\0') + Frame(std::string(200, 'x')) +
                             Frame("\xc1") + Frame(Ping(2));
  for (char c : stream) s.Feed(&c, 1);  // worst-case splitting
  CHECK(s.frames() == 5);
  REQUIRE(requests.got.size() == 2);
  CHECK(requests.got[0]->id == 1);
  CHECK(requests.got[1]->id == 2);
  REQUIRE(frames.got.size() == 3);
  CHECK(AnswerCode(frames.got[0]) == "bad_frame");
  CHECK(AnswerCode(frames.got[1]) == "frame_too_large");
  CHECK(AnswerCode(frames.got[2]) == "bad_request");
  CHECK_FALSE(s.mid_frame());
}

TEST_CASE("a partial frame is reported as mid_frame") {
  StubRequests requests;
  StubFrames frames;
  Session s(testing::TestCatalog(), Limits{}, &requests, &frames);
  const std::string f = Frame(Ping(1));
  s.Feed(f.data(), f.size() - 1);
  CHECK(s.mid_frame());
  CHECK(requests.got.empty());
  s.Feed(f.data() + f.size() - 1, 1);
  CHECK_FALSE(s.mid_frame());
  CHECK(requests.got.size() == 1);
}

}  // namespace
}  // namespace litestash
