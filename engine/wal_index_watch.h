// WalIndexWatch: tells, without a lock or a system call, whether any connection (of this
// process or another) may have committed to a WAL-mode SQLite file since a moment we noted.
//
// It maps the first page of the file's wal-index (`<db>-shm`) read-only and copies the
// wal-index header, whose layout is SQLite's documented file format
// (https://sqlite.org/walformat.html, "The WAL-Index Header"): two copies of a 48-byte header
// that every commit rewrites (mxFrame, frame checksums, salts and the change counter move), the
// second copy first, then a barrier, then the first. Read in the opposite order (first copy,
// barrier, second copy), two equal copies are a consistent header; unequal copies mean a commit
// is being published and Read() reports nothing. So: a header read now that equals one read
// earlier means no commit was published in between.
//
// Lifetime: map only while the caller holds an open connection to the database that has used
// the wal-index (SQLite then holds its shared "DMS" lock, so no one can truncate or rebuild
// the file under the mapping). The descriptor of `<db>-shm` is opened once per process and
// never closed: closing any descriptor of a file would drop that lock (POSIX fcntl locks
// belong to the process and file, not to the descriptor).
//
// Failure: Open() returns false (and the watch stays unusable) for a missing, short or
// unmappable file; callers then validate through SQLite instead.
//
// Thread-safety: none needed; Read() only reads shared memory.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace litestash {

class WalIndexWatch {
 public:
  using Header = std::array<uint32_t, 12>;  // one 48-byte copy of the header

  WalIndexWatch() = default;
  ~WalIndexWatch();
  WalIndexWatch(const WalIndexWatch&) = delete;
  WalIndexWatch& operator=(const WalIndexWatch&) = delete;

  // Maps `<db_path>-shm`. False if it cannot.
  bool Open(const std::string& db_path);
  bool usable() const { return base_ != nullptr; }
  // The current header, or false if a commit is being published (or the watch is unusable).
  bool Read(Header* out) const;

 private:
  static constexpr size_t kMapBytes = 4096;
  const volatile uint32_t* base_ = nullptr;
};

}  // namespace litestash
