#include "common/status.h"

#include <catch2/catch.hpp>
#include <set>

namespace litestash {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Status Chain(int x, int* out) {
  auto r = Half(x);
  LITESTASH_RETURN_IF_ERROR(r.status());
  *out = r.value();
  return Status::Ok();
}

TEST_CASE("Status carries its code, its whole message, and context in front") {
  Status s = Status::IOError("disk full");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == StatusCode::kIOError);
  CHECK(s.ToString() == "I/O error: disk full");
  CHECK(s.WithContext("shard-05.db").message() == "shard-05.db: disk full");
  CHECK(s.WithContext("shard-05.db").code() == StatusCode::kIOError);
  CHECK(Status::Ok().ok());
  CHECK_FALSE(s.conflict().has_value());
}

TEST_CASE("Result propagates values and errors") {
  int out = 0;
  CHECK(Chain(8, &out).ok());
  CHECK(out == 4);
  Status st = Chain(7, &out);
  CHECK(st.code() == StatusCode::kInvalidArgument);
  CHECK(st.message() == "odd");
}

}  // namespace
}  // namespace litestash
