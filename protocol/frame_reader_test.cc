#include "protocol/frame_reader.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "protocol/test_frames.h"

namespace litestash {
namespace {

using Event = FrameReader::Event;
using testing::Frame;

struct Collected {
  std::vector<std::string> frames;
  std::vector<Event> events;  // every non-kNeedMore event, in order
};

// Feeds `bytes` in pieces of the given sizes (the last piece takes the rest).
Collected FeedInPieces(FrameReader& r, const std::string& bytes, std::vector<size_t> cuts) {
  Collected out;
  size_t pos = 0;
  cuts.push_back(bytes.size());
  for (size_t cut : cuts) {
    while (pos < cut) {
      Event ev;
      std::string frame;
      pos += r.Feed(bytes.data() + pos, cut - pos, &ev, &frame);
      if (ev != Event::kNeedMore) out.events.push_back(ev);
      if (ev == Event::kFrame) out.frames.push_back(frame);
    }
  }
  return out;
}

TEST_CASE("a frame split at every byte boundary comes out whole") {
  const std::string body = "\x82\xa2id\x01\xa2op\xa4ping";
  const std::string bytes = Frame(body) + Frame("second");
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    FrameReader r(1024);
    Collected c = FeedInPieces(r, bytes, {cut});
    REQUIRE(c.frames.size() == 2);
    CHECK(c.frames[0] == body);
    CHECK(c.frames[1] == "second");
    CHECK_FALSE(r.mid_frame());
  }
}

TEST_CASE("one byte at a time") {
  const std::string bytes = Frame("abc") + Frame("defg") + Frame("h");
  FrameReader r(1024);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < bytes.size(); ++i) cuts.push_back(i);
  Collected c = FeedInPieces(r, bytes, cuts);
  CHECK(c.frames == std::vector<std::string>{"abc", "defg", "h"});
}

TEST_CASE("back-to-back frames in one read") {
  std::string bytes;
  for (int i = 0; i < 100; ++i) bytes += Frame(std::string(i + 1, 'x'));
  FrameReader r(1024);
  Collected c = FeedInPieces(r, bytes, {});
  REQUIRE(c.frames.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(c.frames[i].size() == static_cast<size_t>(i + 1));
}

TEST_CASE("zero length is malformed and the stream goes on") {
  const std::string bytes = std::string(4, '\0') + Frame("ok");
  FrameReader r(1024);
  Collected c = FeedInPieces(r, bytes, {2});
  CHECK(c.events == std::vector<Event>{Event::kMalformed, Event::kFrame});
  CHECK(c.frames == std::vector<std::string>{"ok"});
}

TEST_CASE("an oversized frame is reported at its header and its body skipped") {
  const std::string big(5000, 'B');
  const std::string bytes = Frame(big) + Frame("after");
  for (size_t cut : {size_t{3}, size_t{4}, size_t{100}, size_t{5003}, size_t{5004}}) {
    FrameReader r(1000);
    Collected c = FeedInPieces(r, bytes, {cut});
    CHECK(c.events == std::vector<Event>{Event::kTooLarge, Event::kFrame});
    CHECK(c.frames == std::vector<std::string>{"after"});
    CHECK(r.last_oversized_length() == 5000);
  }
}

TEST_CASE("the limit itself is accepted, one more byte is not") {
  FrameReader r(10);
  Collected ok = FeedInPieces(r, Frame(std::string(10, 'a')), {});
  CHECK(ok.events == std::vector<Event>{Event::kFrame});
  Collected big = FeedInPieces(r, Frame(std::string(11, 'a')), {});
  CHECK(big.events == std::vector<Event>{Event::kTooLarge});
}

TEST_CASE("a header of 4 GiB allocates nothing and is skipped") {
  FrameReader r(1 << 20);
  const std::string header("\xff\xff\xff\xff", 4);
  Event ev;
  std::string frame;
  CHECK(r.Feed(header.data(), 4, &ev, &frame) == 4);
  CHECK(ev == Event::kTooLarge);
  CHECK(frame.capacity() < 64);
  CHECK(r.mid_frame());  // inside the skipped body
}

TEST_CASE("mid_frame tracks partial headers and bodies") {
  FrameReader r(100);
  Event ev;
  std::string frame;
  CHECK_FALSE(r.mid_frame());
  const std::string bytes = Frame("hello");
  r.Feed(bytes.data(), 2, &ev, &frame);
  CHECK(r.mid_frame());
  r.Feed(bytes.data() + 2, 4, &ev, &frame);
  CHECK(r.mid_frame());
  r.Feed(bytes.data() + 6, bytes.size() - 6, &ev, &frame);
  CHECK(ev == Event::kFrame);
  CHECK_FALSE(r.mid_frame());
}

}  // namespace
}  // namespace litestash
