#include "engine/wal_index_watch.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

namespace litestash {

WalIndexWatch::~WalIndexWatch() {
  if (base_ != nullptr) ::munmap(const_cast<uint32_t*>(base_), kMapBytes);
}

bool WalIndexWatch::Open(const std::string& db_path) {
  if (base_ != nullptr) return true;
  const std::string path = db_path + "-shm";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  struct stat st;
  void* map = MAP_FAILED;
  // Never map beyond the end of the file (reading there would raise SIGBUS).
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= static_cast<off_t>(kMapBytes)) {
    map = ::mmap(nullptr, kMapBytes, PROT_READ, MAP_SHARED, fd, 0);
  }
  ::close(fd);
  if (map == MAP_FAILED) return false;
  base_ = static_cast<const volatile uint32_t*>(map);
  return true;
}

bool WalIndexWatch::Read(Header* out) const {
  if (base_ == nullptr) return false;
  Header first;
  Header second;
  for (size_t i = 0; i < first.size(); ++i) first[i] = base_[i];
  std::atomic_thread_fence(std::memory_order_acquire);
  for (size_t i = 0; i < second.size(); ++i) second[i] = base_[first.size() + i];
  if (first != second) return false;
  *out = first;
  return true;
}

}  // namespace litestash
