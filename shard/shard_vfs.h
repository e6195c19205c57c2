// ShardVfs: the SQLite VFS every shard connection opens its file through. It wraps a base VFS
// (SQLite's default, or a test's fault-injecting one) and changes two things, both measured on
// pipelined sets and gets at 1M keys (docs/performance.md, "Where the time goes").
//
// 1. One write per commit to the write-ahead log.
// SQLite appends every dirty page of a commit to the WAL as two writes: the 24-byte frame
// header, then the page. A shard commit at depth 64 holds about 3 sets and about 7 pages, so it
// made ~15 `pwrite` calls, each a kernel entry (1.5-3 µs on a paravirtualized VM; system calls
// were most of a set's CPU). Files opened with SQLITE_OPEN_WAL gather writes that continue
// where the previous one ended and pass them on together:
//
//   * right after the page of a commit frame (a frame header whose "database size after commit"
//     field is non-zero, the WAL file format's commit marker), or at once when such a header is
//     rewritten over a frame already written (SQLite recomputing checksums before a commit), so
//     a commit's frames reach the OS inside that commit's last xWrite, and a failure is returned
//     from it: SQLite then fails the commit and publishes nothing;
//   * before any other call on the WAL file (read, sync, truncate, size, file control, close),
//     so SQLite, and the OS file, always see what was written; a failure is returned from that
//     call;
//   * when a write does not continue the gathered bytes, or they pass `kMaxBufferedBytes`
//     (large transactions spill early; their frames are not visible to anyone before commit).
//   The base VFS gets at most 64 KiB per call (the unix VFS masks counts above 128 KiB - 1).
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
// 2. The memory map of the database file is kept across snapshots (with PRAGMA mmap_size).
// SQLite drops a connection's whole map (xUnfetch of everything) whenever a read transaction
// finds that another connection wrote since its last one. The reader thread's connections see
// that on nearly every chunk under a mixed load, and unmapping and refaulting a map of up to
// the file's size cost more than read() (1M keys, 90/10 get/set: 11.8k ops/s with the map
// dropped, 50k with no map, 57k with the map kept). The wrapper keeps the map unless the file
// shrank or grew by more than a quarter since it was last mapped (one fstat per such call).
// This is safe because the map is MAP_SHARED over the same file: it shows the file's current
// bytes, and SQLite reads from it only pages of its snapshot that are in the file (pages of the
// snapshot past the end of the file are in the WAL; a checkpoint shortens the file only when
// no reader's snapshot needs the pages past the new end, and the map is dropped when the file
// is seen shorter). What it does not cover is a shard file replaced by another file while the
// engine runs, which would break the engine's writing connection as well.
//
// Threads: a connection and its files are used by one thread at a time (the shard's), so the
// wrappers hold no locks. Registration is once per base VFS and thread-safe.
#pragma once

#include <sqlite3.h>

#include <cstdint>

namespace litestash {

class ShardVfs {
 public:
  static constexpr int64_t kMaxBufferedBytes = 1 << 20;

  // Registers (once per base) the VFS wrapping `base` (nullptr or "": SQLite's default) and
  // returns its name, for sqlite3_open_v2. Never fails for a registered base; nullptr if `base`
  // names no VFS.
  static const char* Register(const char* base = nullptr);

  // Process-wide counters (relaxed atomics), for tests and diagnostics.
  static int64_t flushes();         // writes handed to the base VFS for WAL files
  static int64_t map_drops();       // whole-map drops passed on to the base VFS
  static int64_t map_keeps();       // whole-map drops skipped (the map was kept)
  static int64_t safety_flushes();  // commit frames written by the shm barrier/lock safety net
};

}  // namespace litestash
