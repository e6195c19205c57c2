#include "shard/shard_vfs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace litestash {
namespace {

std::atomic<int64_t> g_flushes{0};
std::atomic<int64_t> g_safety_flushes{0};
std::atomic<int64_t> g_map_drops{0};
std::atomic<int64_t> g_map_keeps{0};

constexpr int kFrameHeaderBytes = 24;         // WAL file format: frame header
constexpr int kWalHeaderBytes = 32;           // WAL file format: file header
constexpr size_t kMaxWriteBytes = 64 * 1024;  // per call to the base VFS

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

struct WalFile;

// The main database file of a connection: forwards everything, and flushes its WAL's gathered
// bytes before shared-memory barriers and locks (the safety net of the header comment).
struct DbFile {
  sqlite3_file base;
  sqlite3_file* real;
  WalFile* wal;               // the open WAL of this connection, or null
  sqlite3_int64 mapped_size;  // the file's size when its map was last dropped (2. in the header)
};

// A WAL file: gathers contiguous writes.
struct WalFile {
  sqlite3_file base;
  sqlite3_file* real;
  DbFile* db;                // the database file whose WAL this is, or null
  std::vector<char>* bytes;  // gathered bytes (owned; heap: SQLite's memory is raw)
  int64_t start;             // file offset of bytes->front()
  bool commit_frame_open;    // the last write was the header of a commit frame
  int64_t header_end;        // where the last frame header written ends (-1: last was no header)
  int64_t written_end;       // end of what was written since the log last started over

  int64_t page_bytes;  // the page size, once a frame was seen (0: not yet)

  // Hands the gathered bytes to the base VFS, in pieces it accepts (the unix VFS writes at most
  // 128 KiB - 1 bytes per call: it masks larger counts). On failure the bytes are dropped
  // (SQLite fails the statement and rewrites its frames) unless `keep_on_failure`.
  int Flush(bool keep_on_failure = false) {
    int rc = SQLITE_OK;
    for (size_t done = 0; done < bytes->size() && rc == SQLITE_OK; done += kMaxWriteBytes) {
      const size_t n = std::min(kMaxWriteBytes, bytes->size() - done);
      rc = real->pMethods->xWrite(real, bytes->data() + done, static_cast<int>(n),
                                  start + static_cast<int64_t>(done));
      g_flushes.fetch_add(1, std::memory_order_relaxed);
    }
    if (rc == SQLITE_OK || !keep_on_failure) bytes->clear();
    return rc;
  }

  // False only if every frame gathered is provably not a commit frame (frames of a transaction
  // that spilled pages before its commit, or that rolled back).
  bool MayHoldCommit() const {
    if (page_bytes == 0) return true;
    const int64_t frame = kFrameHeaderBytes + page_bytes;
    const int64_t end = start + static_cast<int64_t>(bytes->size());
    // The first frame header at or after `start` (frames follow the 32-byte file header).
    int64_t header = start <= kWalHeaderBytes
                         ? kWalHeaderBytes
                         : start + (frame - (start - kWalHeaderBytes) % frame) % frame;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes->data());
    for (; header < end; header += frame) {
      if (header + 8 > end) return true;  // its commit field is not all here
      if (BigEndian32(p + (header - start) + 4) != 0) return true;
    }
    return false;
  }
};

constexpr size_t kWrapperBytes = (std::max(sizeof(DbFile), sizeof(WalFile)) + 15) & ~size_t{15};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<DbFile*>(f)->real; }
WalFile* Wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

// ---- methods shared by both wrappers (pure forwarding) ----
int Lock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int Unlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** p) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, p);
}
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, p);
}
int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

// ---- the database file ----
void SafetyFlush(sqlite3_file* f) {
  WalFile* wal = reinterpret_cast<DbFile*>(f)->wal;
  if (wal == nullptr || wal->bytes->empty()) return;
  // Frames of a transaction that ended without a commit (it rolled back after spilling): written
  // as SQLite would have; a failure keeps them for the next write to retry and report.
  if (!wal->MayHoldCommit()) {
    (void)wal->Flush(/*keep_on_failure=*/true);
    return;
  }
  g_safety_flushes.fetch_add(1, std::memory_order_relaxed);
  if (wal->Flush(/*keep_on_failure=*/true) != SQLITE_OK) {
    // The wal-index header may be about to make frames visible that are not in the file.
    spdlog::critical(
        "WAL write failed where it cannot be reported; stopping to keep the shard intact");
    std::abort();
  }
}
int DbClose(sqlite3_file* f) {
  auto* db = reinterpret_cast<DbFile*>(f);
  if (db->wal != nullptr) db->wal->db = nullptr;
  return db->real->pMethods->xClose(db->real);
}
int DbRead(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), p, n, off);
}
int DbWrite(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xWrite(Real(f), p, n, off);
}
int DbTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int DbSync(sqlite3_file* f, int flags) { return Real(f)->pMethods->xSync(Real(f), flags); }
int DbFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int DbFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int DbShmLock(sqlite3_file* f, int offset, int n, int flags) {
  SafetyFlush(f);
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void DbShmBarrier(sqlite3_file* f) {
  SafetyFlush(f);
  Real(f)->pMethods->xShmBarrier(Real(f));
}

// xUnfetch(0, 0) drops the whole map; kept unless the file shrank or grew by over a quarter.
int DbUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  auto* db = reinterpret_cast<DbFile*>(f);
  if (p == nullptr) {
    sqlite3_int64 size = 0;
    if (db->real->pMethods->xFileSize(db->real, &size) == SQLITE_OK && db->mapped_size > 0 &&
        size >= db->mapped_size && size <= db->mapped_size + db->mapped_size / 4) {
      g_map_keeps.fetch_add(1, std::memory_order_relaxed);
      return SQLITE_OK;
    }
    db->mapped_size = size;
    g_map_drops.fetch_add(1, std::memory_order_relaxed);
  }
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kDbMethods = {3,
                                       DbClose,
                                       DbRead,
                                       DbWrite,
                                       DbTruncate,
                                       DbSync,
                                       DbFileSize,
                                       Lock,
                                       Unlock,
                                       CheckReservedLock,
                                       DbFileControl,
                                       SectorSize,
                                       DeviceCharacteristics,
                                       ShmMap,
                                       DbShmLock,
                                       DbShmBarrier,
                                       ShmUnmap,
                                       Fetch,
                                       DbUnfetch};

// ---- the WAL file ----
int WalClose(sqlite3_file* f) {
  WalFile* wal = Wal(f);
  const int flushed = wal->Flush();
  if (wal->db != nullptr) wal->db->wal = nullptr;
  delete wal->bytes;
  wal->bytes = nullptr;
  const int rc = wal->real->pMethods->xClose(wal->real);
  return flushed != SQLITE_OK ? flushed : rc;
}
int WalRead(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  const int rc = Wal(f)->Flush();
  return rc != SQLITE_OK ? rc : Real(f)->pMethods->xRead(Real(f), p, n, off);
}
int WalWrite(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  WalFile* wal = Wal(f);
  if (!wal->bytes->empty() && off != wal->start + static_cast<int64_t>(wal->bytes->size())) {
    // Not a continuation (SQLite rewrites a frame of the open transaction in place).
    const int rc = wal->Flush();
    if (rc != SQLITE_OK) return rc;
  }
  if (wal->bytes->empty()) wal->start = off;
  const auto* data = static_cast<const char*>(p);
  wal->bytes->insert(wal->bytes->end(), data, data + n);

  const bool rewrite = off + n <= wal->written_end;  // over bytes written before
  wal->written_end = off == 0 ? off + n : std::max<int64_t>(wal->written_end, off + n);
  const bool frame_header = n == kFrameHeaderBytes && off >= kWalHeaderBytes;
  const bool commit_header =
      frame_header && BigEndian32(static_cast<const unsigned char*>(p) + 4) != 0;
  if (!frame_header && off == wal->header_end) wal->page_bytes = n;  // a frame's page
  wal->header_end = frame_header ? off + n : -1;
  // A commit is complete with the page that follows its frame header, or at once when the header
  // is rewritten over a frame already written (SQLite recomputing checksums before a commit).
  const bool ends_commit = wal->commit_frame_open || (commit_header && rewrite);
  wal->commit_frame_open = commit_header && !rewrite;
  if (ends_commit || static_cast<int64_t>(wal->bytes->size()) >= ShardVfs::kMaxBufferedBytes) {
    return wal->Flush();
  }
  return SQLITE_OK;
}
int WalTruncate(sqlite3_file* f, sqlite3_int64 size) {
  const int rc = Wal(f)->Flush();
  return rc != SQLITE_OK ? rc : Real(f)->pMethods->xTruncate(Real(f), size);
}
int WalSync(sqlite3_file* f, int flags) {
  const int rc = Wal(f)->Flush();
  return rc != SQLITE_OK ? rc : Real(f)->pMethods->xSync(Real(f), flags);
}
int WalFileSize(sqlite3_file* f, sqlite3_int64* size) {
  const int rc = Wal(f)->Flush();
  return rc != SQLITE_OK ? rc : Real(f)->pMethods->xFileSize(Real(f), size);
}
int WalFileControl(sqlite3_file* f, int op, void* arg) {
  const int rc = Wal(f)->Flush();
  return rc != SQLITE_OK ? rc : Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int WalShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void WalShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }

const sqlite3_io_methods kWalMethods = {3,
                                        WalClose,
                                        WalRead,
                                        WalWrite,
                                        WalTruncate,
                                        WalSync,
                                        WalFileSize,
                                        Lock,
                                        Unlock,
                                        CheckReservedLock,
                                        WalFileControl,
                                        SectorSize,
                                        DeviceCharacteristics,
                                        ShmMap,
                                        WalShmLock,
                                        WalShmBarrier,
                                        ShmUnmap,
                                        Fetch,
                                        Unfetch};

// ---- the VFS ----
struct Registered {
  sqlite3_vfs vfs;  // first: Open() finds the rest from it

  sqlite3_vfs* base;
  std::string name;
};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  sqlite3_vfs* base = reinterpret_cast<Registered*>(vfs)->base;
  const bool main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  const bool wal = (flags & SQLITE_OPEN_WAL) != 0;
  if (!main_db && !wal) return base->xOpen(base, name, f, flags, out_flags);  // used as is
  auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kWrapperBytes);
  f->pMethods = nullptr;  // SQLite skips xClose when open fails
  const int rc = base->xOpen(base, name, real, flags, out_flags);
  if (rc != SQLITE_OK) return rc;
  if (main_db) {
    auto* db = reinterpret_cast<DbFile*>(f);
    db->real = real;
    db->wal = nullptr;
    db->mapped_size = 0;
    f->pMethods = &kDbMethods;
    return SQLITE_OK;
  }
  auto* w = reinterpret_cast<WalFile*>(f);
  w->real = real;
  w->bytes = new (std::nothrow) std::vector<char>();
  if (w->bytes == nullptr) {
    real->pMethods->xClose(real);
    return SQLITE_NOMEM;
  }
  w->bytes->reserve(64 * 1024);
  w->start = 0;
  w->commit_frame_open = false;
  w->header_end = -1;
  w->written_end = 0;
  w->page_bytes = 0;
  w->db = nullptr;
  sqlite3_file* owner = sqlite3_database_file_object(name);
  if (owner != nullptr && owner->pMethods == &kDbMethods) {
    w->db = reinterpret_cast<DbFile*>(owner);
    w->db->wal = w;
  }
  f->pMethods = &kWalMethods;
  return SQLITE_OK;
}

}  // namespace

const char* ShardVfs::Register(const char* base_name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Registered>> registered;
  std::lock_guard<std::mutex> lock(mu);
  sqlite3_vfs* base = sqlite3_vfs_find(base_name != nullptr && *base_name ? base_name : nullptr);
  if (base == nullptr) return nullptr;
  auto& slot = registered[base->zName];
  if (!slot) {
    auto r = std::make_unique<Registered>();
    r->base = base;
    r->name = std::string("litestash-shard-") + base->zName;
    r->vfs = *base;  // inherit every method (and pAppData, which they use), override xOpen
    r->vfs.pNext = nullptr;
    r->vfs.zName = r->name.c_str();
    r->vfs.szOsFile = static_cast<int>(kWrapperBytes) + base->szOsFile;
    r->vfs.xOpen = Open;
    sqlite3_vfs_register(&r->vfs, /*makeDflt=*/0);
    slot = std::move(r);
  }
  return slot->name.c_str();
}

int64_t ShardVfs::flushes() { return g_flushes.load(std::memory_order_relaxed); }
int64_t ShardVfs::map_drops() { return g_map_drops.load(std::memory_order_relaxed); }
int64_t ShardVfs::map_keeps() { return g_map_keeps.load(std::memory_order_relaxed); }
int64_t ShardVfs::safety_flushes() { return g_safety_flushes.load(std::memory_order_relaxed); }

}  // namespace litestash
