#include "protocol/wire_error.h"

#include <catch2/catch.hpp>
#include <iterator>
#include <set>

namespace litestash {
namespace {

TEST_CASE("a conflict carries the current version and the key") {
  Status s = Status::Conflict("version 5 expected", 7, std::string("k"));
  REQUIRE(s.conflict().has_value());
  CHECK(s.conflict()->version == 7);
  CHECK(s.conflict()->key == "k");
  CHECK(WireErrorCode(s.code()) == "conflict");
}

TEST_CASE("every internal code maps to one of the contract's wire codes") {
  std::set<std::string_view> wire(std::begin(kWireErrorCodes), std::end(kWireErrorCodes));
  std::set<std::string_view> seen;
  std::set<std::string_view> names;
  for (int c = 1; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    const auto code = static_cast<StatusCode>(c);
    CHECK(wire.count(WireErrorCode(code)) == 1);
    seen.insert(WireErrorCode(code));
    names.insert(StatusCodeName(code));
  }
  CHECK(seen == wire);  // every wire code is reachable
  CHECK(names.size() == static_cast<size_t>(StatusCode::kInternal));  // names are distinct
  CHECK(WireErrorCode(StatusCode::kBusy) == "storage_error");
  CHECK(WireErrorCode(StatusCode::kCorruption) == "storage_error");
  CHECK(WireErrorCode(StatusCode::kInvalidArgument) == "bad_request");
  CHECK(WireErrorCode(StatusCode::kWrongType) == "type_error");
}

}  // namespace
}  // namespace litestash
