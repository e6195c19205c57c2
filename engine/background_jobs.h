// BackgroundJobs: threads the engine starts for long work that must not run on the reader or a
// shard thread (a backup's file copy). Each job gets its own thread; Stop() waits for all of
// them, so the engine shuts down only once their answers have been handed to the FrameSink.
//
// Thread-safety: Run() from any thread; Stop() once, from the owner, after the reader stopped
// submitting (a Run() after Stop() runs the job on the caller's thread).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace litestash {

class BackgroundJobs {
 public:
  BackgroundJobs() = default;
  ~BackgroundJobs() { Stop(); }
  BackgroundJobs(const BackgroundJobs&) = delete;
  BackgroundJobs& operator=(const BackgroundJobs&) = delete;

  void Run(std::function<void()> job) {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopped_) {
      lock.unlock();
      job();
      return;
    }
    // Threads of jobs that have ended are joined here, so they do not pile up.
    for (size_t i = 0; i < jobs_.size();) {
      if (jobs_[i].done->load()) {
        jobs_[i].thread.join();
        jobs_.erase(jobs_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    jobs_.push_back({std::thread([job = std::move(job), done] {
                       job();
                       done->store(true);
                     }),
                     done});
  }

  void Stop() {
    std::vector<Job> jobs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      jobs.swap(jobs_);
    }
    for (Job& j : jobs) j.thread.join();
  }

 private:
  struct Job {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex mu_;
  std::vector<Job> jobs_;  // guarded by mu_
  bool stopped_ = false;   // guarded by mu_
};

}  // namespace litestash
