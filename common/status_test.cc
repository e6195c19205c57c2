#include "common/status.h"

#include <catch2/catch.hpp>
#include <set>

namespace litestash {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::BadRequest("odd");
  return x / 2;
}

Status Chain(int x, int* out) {
  auto r = Half(x);
  LITESTASH_RETURN_IF_ERROR(r.status());
  *out = r.value();
  return Status::Ok();
}

TEST_CASE("Status carries the wire code and message") {
  Status s = Status::Storage("disk full");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == ErrorCode::kStorageError);
  CHECK(ErrorCodeName(s.code()) == "storage_error");
  CHECK(s.ToString() == "storage_error: disk full");
  CHECK(Status::Ok().ok());
}

TEST_CASE("every error code has a distinct wire name") {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(ErrorCode::kInternal); ++c) {
    names.insert(ErrorCodeName(static_cast<ErrorCode>(c)));
  }
  CHECK(names.size() == static_cast<size_t>(ErrorCode::kInternal) + 1);
}

TEST_CASE("Result propagates values and errors") {
  int out = 0;
  CHECK(Chain(8, &out).ok());
  CHECK(out == 4);
  Status st = Chain(7, &out);
  CHECK(st.code() == ErrorCode::kBadRequest);
  CHECK(st.message() == "odd");
}

}  // namespace
}  // namespace litestash
