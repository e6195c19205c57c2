// FaultVfs: an SQLite VFS shim for fault-injection tests. It wraps the default VFS and, when
// armed, makes every xWrite after the next `after_writes` successful ones fail with the chosen
// error (SQLITE_FULL for a full disk, SQLITE_IOERR_WRITE for an I/O error). Reads, locks and the
// WAL index pass through untouched, so the engine keeps serving reads while writes fail.
//
// Registration is process-wide (sqlite3_vfs_register); the fault state is atomic, so tests may
// arm and disarm from their own thread while shard threads write. Test-only code.
#pragma once

#include <sqlite3.h>

namespace litestash::testing {

class FaultVfs {
 public:
  static constexpr const char* kName = "litestash-fault";

  // Registers the shim (once per process). Returns its name for ShardOptions::vfs.
  static const char* Register();
  // Writes after the next `after_writes` fail with `error` until Disarm().
  static void Arm(int after_writes, int error);
  static void Disarm();
  static long failed_writes();
  // xSync calls (fsync/fdatasync) made through the shim since the process started.
  static long syncs();
};

}  // namespace litestash::testing
