#include "engine/wal_index_watch.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>

namespace litestash {

WalIndexWatch::~WalIndexWatch() {
  if (base_ != nullptr) ::munmap(const_cast<uint32_t*>(base_), kMapBytes);
}

namespace {

// A descriptor of `path`, opened once per process and never closed: closing any descriptor of a
// file drops every fcntl lock this process holds on it, SQLite's shared "DMS" lock on the
// wal-index included. Without that lock another process opening the database believes it is
// the first and truncates the wal-index under this process's live connections (SIGBUS, or an
// index rebuilt under a running transaction). Bounded by the number of shard files opened.
int KeptDescriptor(const std::string& path) {
  static std::mutex mu;
  static std::map<std::string, int>* kept = new std::map<std::string, int>();  // never freed
  std::lock_guard<std::mutex> lock(mu);
  auto it = kept->find(path);
  if (it != kept->end()) return it->second;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) kept->emplace(path, fd);
  return fd;
}

}  // namespace

bool WalIndexWatch::Open(const std::string& db_path) {
  if (base_ != nullptr) return true;
  const int fd = KeptDescriptor(db_path + "-shm");
  if (fd < 0) return false;
  struct stat st;
  void* map = MAP_FAILED;
  // Never map beyond the end of the file (reading there would raise SIGBUS).
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= static_cast<off_t>(kMapBytes)) {
    map = ::mmap(nullptr, kMapBytes, PROT_READ, MAP_SHARED, fd, 0);
  }
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
