// OwnerLock on a real data dir: ids are distinct, a live process's id is alive for everyone, and
// once the process is gone (however it ended) its id is dead.
#include "engine/owner_lock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "shard/test_dir.h"

namespace litestash {
namespace {

TEST_CASE("owner ids are alive while their process lives, dead after it is killed") {
  testing::TempDir dir;
  auto self = OwnerLock::Acquire(dir.path().string());
  REQUIRE(self.ok());
  CHECK(self.value()->IsAlive(self.value()->id()));
  CHECK(self.value()->id() > 0);
  CHECK(self.value()->id() < (uint64_t{1} << 40));

  int ids[2];
  REQUIRE(::pipe(ids) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto lock = OwnerLock::Acquire(dir.path().string());
    uint64_t id = lock.ok() ? lock.value()->id() : 0;
    if (::write(ids[1], &id, sizeof id) != sizeof id) _exit(1);
    ::pause();  // until killed
    _exit(0);
  }
  uint64_t child_id = 0;
  REQUIRE(::read(ids[0], &child_id, sizeof child_id) == sizeof child_id);
  REQUIRE(child_id != 0);
  CHECK(child_id != self.value()->id());
  CHECK(self.value()->IsAlive(child_id));
  CHECK_FALSE(self.value()->IsAlive(child_id + 1));  // nobody holds that one

  ::kill(child, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK_FALSE(self.value()->IsAlive(child_id));
  ::close(ids[0]);
  ::close(ids[1]);
}

TEST_CASE("an owner lock needs a data dir it can write") {
  auto missing = OwnerLock::Acquire("/nonexistent/litestash/dir");
  CHECK_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kIOError);
}

}  // namespace
}  // namespace litestash
