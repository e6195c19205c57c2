#include "engine/owner_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace litestash {
namespace {

constexpr uint64_t kIdSpace = uint64_t{1} << 40;

struct flock ByteAt(uint64_t offset, short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(offset);
  fl.l_len = 1;
  return fl;
}

}  // namespace

Result<std::unique_ptr<OwnerLock>> OwnerLock::Acquire(const std::string& data_dir) {
  const std::string path = (std::filesystem::path(data_dir) / "litestash.owners").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot open '" + path + "': " + std::strerror(errno));
  }
  std::random_device entropy;
  std::mt19937_64 rng((uint64_t{entropy()} << 32) ^ entropy() ^ static_cast<uint64_t>(::getpid()));
  for (int attempt = 0; attempt < 64; ++attempt) {
    const uint64_t id = 1 + rng() % (kIdSpace - 1);
    struct flock fl = ByteAt(id, F_WRLCK);
    if (::fcntl(fd, F_SETLK, &fl) == 0) return std::unique_ptr<OwnerLock>(new OwnerLock(fd, id));
    if (errno != EACCES && errno != EAGAIN) break;
  }
  const std::string why = std::strerror(errno);
  ::close(fd);
  return Status::IOError("cannot lock a byte of '" + path + "': " + why);
}

OwnerLock::~OwnerLock() { ::close(fd_); }

bool OwnerLock::IsAlive(uint64_t owner) const {
  if (owner == id_) return true;
  struct flock fl = ByteAt(owner, F_WRLCK);
  if (::fcntl(fd_, F_GETLK, &fl) != 0) return true;  // cannot tell: assume alive, touch nothing
  return fl.l_type != F_UNLCK;
}

}  // namespace litestash
