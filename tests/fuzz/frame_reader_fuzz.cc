// libFuzzer target: protocol/frame_reader (the incremental {packet,4} framing of stdin).
//
// Input layout: byte 0 configures the run, the rest is the byte stream.
//   bits 0-1 of byte 0 pick max_frame_bytes from kLimits (64 KiB, and tiny limits so that small
//   inputs reach the too-large path and the exact-limit boundary); bits 2-7 seed the split.
// The stream is fed to a fresh FrameReader three ways: in one piece, in chunks whose sizes come
// from the seed, and one byte at a time (inputs up to 16 KiB). Each run is compared event by
// event with ReferenceFrames() (fuzz_util.h), a naive whole-buffer model, and must satisfy:
//   - every Feed() makes progress, never reports consuming more than it was given, and returns
//     kNeedMore only after consuming everything; Feed() of 0 bytes is a no-op;
//   - the consumed counts add up to the stream size;
//   - kFrame bodies are non-empty, at most max_frame_bytes, byte-identical to the model's and
//     emitted exactly when the stream offset reaches the frame's end; kTooLarge carries the
//     announced length (> limit) and comes right after the header; kMalformed = zero length;
//   - mid_frame() is false exactly at the model's frame boundaries, after every Feed();
//   - the event sequence does not depend on how the stream was split.
// Memory: ASan + the -malloc_limit_mb of run_fuzz.sh (no buffer beyond max_frame_bytes).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/frame_reader.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using litestash::FrameReader;
using litestash::fuzz::RefFrame;
using litestash::fuzz::RefStream;
using litestash::fuzz::SplitRng;

constexpr size_t kLimits[4] = {64 * 1024, 1, 10, 300};

const char* EventName(FrameReader::Event e) {
  switch (e) {
    case FrameReader::Event::kNeedMore:
      return "kNeedMore";
    case FrameReader::Event::kFrame:
      return "kFrame";
    case FrameReader::Event::kTooLarge:
      return "kTooLarge";
    case FrameReader::Event::kMalformed:
      return "kMalformed";
  }
  return "?";
}

FrameReader::Event Expected(const RefFrame& f) {
  switch (f.kind) {
    case RefFrame::kBody:
      return FrameReader::Event::kFrame;
    case RefFrame::kZero:
      return FrameReader::Event::kMalformed;
    case RefFrame::kTooLarge:
      return FrameReader::Event::kTooLarge;
  }
  return FrameReader::Event::kNeedMore;
}

bool IsBoundary(const RefStream& ref, size_t offset) {
  for (size_t b : ref.boundaries) {
    if (b == offset) return true;
    if (b > offset) break;
  }
  return false;
}

// Feeds `stream` in chunks chosen by `next_chunk` and checks every step against `ref`.
template <typename NextChunk>
void Run(std::string_view stream, size_t limit, const RefStream& ref, NextChunk next_chunk) {
  FrameReader reader(limit);
  size_t offset = 0;  // stream bytes consumed so far (sum of Feed() results)
  size_t next_event = 0;
  while (offset < stream.size()) {
    const size_t chunk_end = std::min(stream.size(), offset + next_chunk());
    // A zero-byte Feed is harmless at any point.
    {
      FrameReader::Event ev = FrameReader::Event::kFrame;
      std::string frame = "untouched";
      const bool mid = reader.mid_frame();
      FUZZ_CHECK(reader.Feed(stream.data() + offset, 0, &ev, &frame) == 0, "Feed(0) consumed");
      FUZZ_CHECK(ev == FrameReader::Event::kNeedMore && frame == "untouched" &&
                     reader.mid_frame() == mid,
                 "Feed(0) at offset %zu changed something", offset);
    }
    while (offset < chunk_end) {
      const size_t given = chunk_end - offset;
      FrameReader::Event ev;
      std::string frame;
      const size_t used = reader.Feed(stream.data() + offset, given, &ev, &frame);
      FUZZ_CHECK(used > 0 && used <= given, "Feed(%zu bytes) returned %zu", given, used);
      offset += used;
      FUZZ_CHECK(reader.mid_frame() == !IsBoundary(ref, offset),
                 "mid_frame()=%d at offset %zu", reader.mid_frame(), offset);
      if (ev == FrameReader::Event::kNeedMore) {
        FUZZ_CHECK(used == given, "kNeedMore after consuming %zu of %zu bytes", used, given);
        continue;
      }
      FUZZ_CHECK(next_event < ref.frames.size(), "unexpected %s at offset %zu (model: %zu events)",
                 EventName(ev), offset, ref.frames.size());
      const RefFrame& want = ref.frames[next_event++];
      FUZZ_CHECK(ev == Expected(want), "event %zu is %s, model says %s", next_event - 1,
                 EventName(ev), EventName(Expected(want)));
      switch (ev) {
        case FrameReader::Event::kFrame:
          FUZZ_CHECK(!frame.empty() && frame.size() <= limit, "frame of %zu bytes, limit %zu",
                     frame.size(), limit);
          FUZZ_CHECK(frame == want.body, "frame body differs from the model (%zu vs %zu bytes)",
                     frame.size(), want.body.size());
          FUZZ_CHECK(offset == want.end, "frame emitted at offset %zu, ends at %zu", offset,
                     want.end);
          break;
        case FrameReader::Event::kTooLarge:
          FUZZ_CHECK(reader.last_oversized_length() == want.length &&
                         reader.last_oversized_length() > limit,
                     "last_oversized_length %llu, header said %llu",
                     (unsigned long long)reader.last_oversized_length(),
                     (unsigned long long)want.length);
          FUZZ_CHECK(offset == want.header_end, "kTooLarge at offset %zu, header ends at %zu",
                     offset, want.header_end);
          break;
        case FrameReader::Event::kMalformed:
          FUZZ_CHECK(offset == want.header_end, "kMalformed at offset %zu, header ends at %zu",
                     offset, want.header_end);
          break;
        case FrameReader::Event::kNeedMore:
          break;
      }
    }
  }
  FUZZ_CHECK(offset == stream.size(), "consumed %zu of %zu bytes", offset, stream.size());
  FUZZ_CHECK(next_event == ref.frames.size(), "%zu events, model has %zu", next_event,
             ref.frames.size());
  FUZZ_CHECK(reader.mid_frame() == ref.partial, "mid_frame()=%d at end, model partial=%d",
             reader.mid_frame(), ref.partial);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t limit = kLimits[data[0] & 3];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const RefStream ref = litestash::fuzz::ReferenceFrames(stream, limit);

  Run(stream, limit, ref, [&] { return stream.size(); });
  SplitRng rng(data[0] >> 2);
  Run(stream, limit, ref, [&] { return rng.Chunk(); });
  if (stream.size() <= 16 * 1024) Run(stream, limit, ref, [] { return size_t{1}; });
  return 0;
}
