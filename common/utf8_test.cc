#include "common/utf8.h"

#include <catch2/catch.hpp>
#include <string>

namespace litestash {
namespace {

TEST_CASE("valid UTF-8 is accepted") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("user:1001"));
  CHECK(IsValidUtf8("caf\xC3\xA9"));           // é
  CHECK(IsValidUtf8("\xE2\x82\xAC"));          // €
  CHECK(IsValidUtf8("\xF0\x9F\x98\x80"));      // U+1F600
  CHECK(IsValidUtf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  CHECK(IsValidUtf8(std::string("a\0b", 3)));  // NUL is a valid code point
}

TEST_CASE("invalid UTF-8 is rejected") {
  CHECK_FALSE(IsValidUtf8("\x80"));              // lone continuation
  CHECK_FALSE(IsValidUtf8("\xC3"));              // truncated 2-byte
  CHECK_FALSE(IsValidUtf8("\xE2\x82"));          // truncated 3-byte
  CHECK_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  CHECK_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong 3-byte
  CHECK_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate U+D800
  CHECK_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(IsValidUtf8("\xFF"));
  CHECK_FALSE(IsValidUtf8("ab\xC3("));  // bad continuation
}

}  // namespace
}  // namespace litestash
