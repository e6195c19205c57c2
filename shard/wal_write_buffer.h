// WalWriteBuffer: a SQLite VFS that hands each commit's write-ahead-log frames to the kernel in
// one write instead of two per frame.
//
// SQLite appends every dirty page of a commit to the WAL as two writes: the 24-byte frame
// header, then the page. A shard commit at depth 64 holds about 3 sets and about 7 pages, so it
// made ~15 `pwrite` calls, each a kernel entry (1.5-3 µs on a paravirtualized VM; system calls
// were most of a set's CPU). Files opened through this VFS with SQLITE_OPEN_WAL gather writes
// that continue where the previous one ended and pass them on as one write:
//
//   * right after the page of a commit frame (a frame header whose "database size after commit"
//     field is non-zero, the WAL file format's commit marker), so a commit's frames reach the
//     OS inside that commit's last xWrite, and a failure is returned from it: SQLite then fails
//     the commit and publishes nothing;
//   * before any other call on the WAL file (read, sync, truncate, size, file control, close),
//     so SQLite, and the OS file, always see what was written; a failure is returned from that
//     call;
//   * when a write does not continue the gathered bytes, or they pass `kMaxBufferedBytes`
//     (large transactions spill early; their frames are not visible to anyone before commit).
//
// Safety net: the WAL is made visible to other connections and processes only by the wal-index
// header SQLite writes into shared memory, after xShmBarrier/xShmLock on the *database* file.
// The database file's wrapper writes out its WAL's gathered bytes there too, keeping them if the
// write fails. Normally only frames of a transaction that rolled back after spilling pages are
// left at that point (no commit frame: they are parsed); they are written as SQLite would have.
// Should a commit frame ever be among them (a SQLite that wrote frames differently), it is
// written there before the header, counted by safety_flushes() (tests assert 0), and if that
// write fails the process aborts rather than publish frames that are not in the file (nothing
// acknowledged is lost: the commit never returned).
//
// Durability is unchanged: the bytes are in the OS file before the commit becomes visible, the
// same point SQLite's own writes reach; syncs are SQLite's (xSync flushes first).
//
// Threads: a connection and its files are used by one thread at a time (the shard's), so the
// wrappers hold no locks. Registration is once per base VFS and thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>

namespace litestash {

class WalWriteBuffer {
 public:
  static constexpr int64_t kMaxBufferedBytes = 1 << 20;

  // Registers (once per base) the VFS wrapping `base` (nullptr or "": SQLite's default) and
  // returns its name, for sqlite3_open_v2. Never fails for a registered base; nullptr if `base`
  // names no VFS.
  static const char* Register(const char* base = nullptr);

  // Process-wide counters (relaxed atomics), for tests and diagnostics.
  static int64_t flushes();         // writes handed to the base VFS for WAL files
  static int64_t safety_flushes();  // commit frames written by the shm barrier/lock safety net
};

}  // namespace litestash
