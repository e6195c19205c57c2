// OwnerLock: which engine processes on a data dir are alive — for resolving a multi-shard
// write whose process died in the middle of it (engine/write_group.h).
//
// Each engine takes an exclusive POSIX record lock on one byte of `<data_dir>/litestash.owners`
// (an empty file; locks beyond its end are allowed), at a random offset below 2^40 that is also
// its owner id; the lock lives as long as the process (the kernel drops it when the process
// dies, however it dies). IsAlive(id) asks the kernel whether another process holds that byte.
// Two processes drawing the same id: the second retries with another; a dead process's id
// drawn again later would make its leftovers look alive until that process ends too (one chance
// in 2^40 per start). This file is never opened by SQLite; shard files are never locked here.
//
// Thread-safety: IsAlive and id() from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace litestash {

class OwnerLock {
 public:
  // Takes a lock in `data_dir` (which must exist).
  static Result<std::unique_ptr<OwnerLock>> Acquire(const std::string& data_dir);
  ~OwnerLock();
  OwnerLock(const OwnerLock&) = delete;
  OwnerLock& operator=(const OwnerLock&) = delete;

  uint64_t id() const { return id_; }
  // True if `owner` is this process, or another live process holds its lock.
  bool IsAlive(uint64_t owner) const;

 private:
  OwnerLock(int fd, uint64_t id) : fd_(fd), id_(id) {}
  const int fd_;
  const uint64_t id_;
};

}  // namespace litestash
