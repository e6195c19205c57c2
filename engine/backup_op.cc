#include "engine/backup_op.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace litestash {
namespace fs = std::filesystem;
namespace {

std::string FileName(uint32_t shard) {
  char name[32];
  std::snprintf(name, sizeof name, "shard-%02u.db", shard);
  return name;
}

Status SyncPath(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return Status::IOError("cannot sync '" + path.string() + "': " + why);
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

// A part of a backup: alone on its shard's thread.
class BackupPart : public ShardTask {
 public:
  BackupPart(std::shared_ptr<BackupOp> op, size_t part) : op_(std::move(op)), part_(part) {}
  bool writes() const override { return false; }
  bool transactional() const override { return false; }
  Status Run(ShardStore& store, const Clock& clock) override {
    return op_->RunPart(part_, store, clock);
  }
  void Done(const Status& status) override { op_->PartFinished(status); }

 private:
  std::shared_ptr<BackupOp> op_;
  size_t part_;
};

BackupOp::BackupOp(SharedRequest request, FrameSink* out, BackgroundJobs* jobs)
    : FanOutOp(std::move(request), out), jobs_(jobs) {}

BackupOp::~BackupOp() = default;

void BackupOp::Launch(const std::vector<ShardWorker*>& workers) {
  dir_ = std::string(request().Bytes("dir"));
  std::error_code ec;
  const fs::path dir(dir_);
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
      Fail(Status::InvalidArgument("backup dir '" + dir_ +
                                   "' exists and is not an empty directory; it was left as it is"));
      Finish();
      return;
    }
  }
  static std::atomic<uint64_t> counter{0};
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  temporary_ = (parent / (dir.filename().string() + ".partial-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter.fetch_add(1))))
                   .string();
  if (ec || !fs::create_directory(temporary_, ec) || ec) {
    Fail(Status::IOError("cannot create '" + temporary_ + "': " + ec.message()));
    Finish();
    return;
  }
  snaps_.resize(parts_.size());
  auto self = std::static_pointer_cast<BackupOp>(shared_from_this());
  for (size_t i = 0; i < parts_.size(); ++i) {
    workers[parts_[i].shard]->Enqueue(std::make_unique<BackupPart>(self, i));
  }
}

Status BackupOp::RunPart(size_t part, ShardStore& store, const Clock&) {
  std::unique_lock<std::mutex> lock(mu_);
  // Locks in ascending shard order: wait for every part below this one.
  cv_.wait(lock, [&] { return locked_ >= part; });
  lock.unlock();
  Status st = store.Begin(true);
  std::unique_ptr<SnapshotCopy> snap;
  const bool in_memory = store.options().in_memory;
  if (st.ok() && !in_memory) {
    auto opened = SnapshotCopy::Open(store.options().path);
    st = opened.status();
    if (st.ok()) snap = std::move(opened).value();
  }
  lock.lock();
  snaps_[part] = std::move(snap);
  ++locked_;
  cv_.notify_all();
  // Every shard held at once: the snapshots are one point of the whole data dir.
  cv_.wait(lock, [&] { return locked_ == parts_.size(); });
  lock.unlock();
  if (!st.ok()) {
    store.Rollback();
    return st;
  }
  if (in_memory) {
    // A memory shard is copied now, by its own thread, while the others are still held.
    store.Rollback();
    return store.CopyTo((fs::path(temporary_) / FileName(parts_[part].shard)).string());
  }
  // The write transaction may hold a replayed part of a stopped engine's write: keep it.
  st = store.Commit();
  if (!st.ok()) store.Rollback();
  return st;
}

void BackupOp::PartFinished(const Status& status) {
  Fail(status);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok()) part_failed_ = true;
    if (++finished_ < parts_.size()) return;
  }
  auto self = std::static_pointer_cast<BackupOp>(shared_from_this());
  if (jobs_ != nullptr) {
    jobs_->Run([self] { self->Copy(); });
  } else {
    Copy();
  }
}

void BackupOp::Copy() {
  Fail(CopyAll());
  {
    std::lock_guard<std::mutex> lock(mu_);
    snaps_.clear();  // ends the read snapshots
  }
  Finish();
}

Status BackupOp::CopyAll() {
  Status st;
  {
    std::lock_guard<std::mutex> lock(mu_);  // the parts are done; the lock orders their writes
    if (part_failed_) {
      RemoveTemporary();  // the part's error is the answer
      return Status::Ok();
    }
    for (size_t i = 0; i < snaps_.size() && st.ok(); ++i) {
      if (snaps_[i]) {
        st = snaps_[i]->CopyTo((fs::path(temporary_) / FileName(parts_[i].shard)).string());
      }
    }
  }
  // A failed part (or copy) leaves no partial data dir behind.
  auto fail = [&](Status why) {
    RemoveTemporary();
    return why;
  };
  if (!st.ok()) return fail(st);
  std::error_code ec;
  bytes_ = 0;
  for (const auto& entry : fs::directory_iterator(temporary_, ec)) {
    bytes_ += fs::file_size(entry.path(), ec);
  }
  if (Status synced = SyncPath(temporary_); !synced.ok()) return fail(synced);
  const fs::path dir(dir_);
  if (fs::exists(dir, ec)) {
    // Still the empty directory checked at the start (or another one made since: then the
    // rename below fails and the copy goes).
    fs::remove(dir, ec);
  }
  fs::rename(temporary_, dir, ec);
  if (ec)
    return fail(Status::IOError("cannot move the backup into '" + dir_ + "': " + ec.message()));
  return SyncPath(dir.has_parent_path() ? dir.parent_path() : fs::path("."));
}

void BackupOp::RemoveTemporary() {
  std::error_code ec;
  fs::remove_all(temporary_, ec);
}

void BackupOp::Encode(FrameEncoder* out) {
  out->BeginOk(request().id, 2);
  out->Key("shards");
  out->Uint(parts_.size());
  out->Key("bytes");
  out->Uint(bytes_);
}

}  // namespace litestash
