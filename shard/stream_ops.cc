#include "shard/stream_ops.h"

#include <algorithm>

namespace litestash {
namespace {

std::string Quoted(std::string_view s) { return "'" + std::string(s.substr(0, 64)) + "'"; }

// The first entry id a stream keeps at `clock` under its stored retention.
Result<uint64_t> RetainedFrom(StreamTable& table, const StreamMeta& m, const Clock& clock) {
  uint64_t first = m.first_id;
  if (m.maxlen && m.length() > *m.maxlen) first = m.last_id - *m.maxlen + 1;
  if (m.max_age_ms && first <= m.last_id) {
    const uint64_t age_us = *m.max_age_ms >= UINT64_MAX / 1000 ? UINT64_MAX : *m.max_age_ms * 1000;
    const uint64_t now_us = static_cast<uint64_t>(std::max<int64_t>(clock.now_us, 0));
    if (now_us > age_us) {
      const uint64_t cutoff = now_us - age_us;
      auto oldest = table.TsOf(m.stream_id, first);
      if (!oldest.ok()) return oldest.status();
      if (oldest.value() && *oldest.value() < cutoff) {
        auto keep = table.FirstAtOrAfter(m.stream_id, cutoff);
        if (!keep.ok()) return keep.status();
        first = std::max(first, keep.value().value_or(m.last_id + 1));
      }
    }
  }
  return first;
}

// Removes the head below `first` and records it; returns how many entries went.
Result<uint64_t> TrimTo(StreamTable& table, std::string_view name, StreamMeta& m, uint64_t first) {
  if (first <= m.first_id) return uint64_t{0};
  auto removed = table.DeleteBelow(m.stream_id, first);
  if (!removed.ok()) return removed.status();
  m.first_id = first;
  table.Update(name, m);
  return *removed;
}

}  // namespace

Result<Appended> StreamAppend(ShardStore& store, std::string_view stream, std::string_view value,
                              const RetentionUpdate& retention, const Clock& clock) {
  StreamTable& table = store.streams();
  auto found = table.Find(stream);
  if (!found.ok()) return found.status();
  StreamMeta m;
  if (found.value()) {
    m = *found.value();
  } else {
    auto created = table.Create(stream);
    if (!created.ok()) return created.status();
    m = *created;
  }
  if (retention.maxlen) m.maxlen = retention.maxlen;
  if (retention.max_age_ms) m.max_age_ms = retention.max_age_ms;
  // Only appends without a retention update run inside multi-shard writes (txn's xadd).
  store.Record(WriteOp::kAppend, stream, value);
  Appended out;
  out.ts = store.NextVersion(clock);
  out.entry_id = m.last_id + 1;
  LITESTASH_RETURN_IF_ERROR(table.Append(m.stream_id, out.entry_id, out.ts, value));
  m.last_id = out.entry_id;
  table.Update(stream, m);
  auto first = RetainedFrom(table, m, clock);
  if (!first.ok()) return first.status();
  auto trimmed = TrimTo(table, stream, m, *first);
  if (!trimmed.ok()) return trimmed.status();
  return out;
}

Result<uint64_t> StreamTrim(ShardStore& store, std::string_view stream, const TrimSpec& trim,
                            const Clock& clock) {
  StreamTable& table = store.streams();
  auto found = table.Find(stream);
  if (!found.ok()) return found.status();
  if (!found.value()) return uint64_t{0};
  StreamMeta m = *found.value();
  // The stored retention is not touched: apply the one-off limits as if they were the stream's.
  StreamMeta once = m;
  once.maxlen = trim.maxlen;
  once.max_age_ms = trim.max_age_ms;
  auto retained = RetainedFrom(table, once, clock);
  if (!retained.ok()) return retained.status();
  uint64_t first = *retained;
  if (trim.min_id) first = std::max(first, std::min(*trim.min_id, m.last_id + 1));
  return TrimTo(table, stream, m, first);
}

Result<RangePlan> PlanStreamRange(ShardStore& store, std::string_view stream, uint64_t after,
                                  uint64_t before, uint64_t limit) {
  RangePlan plan;
  auto found = store.streams().Find(stream);
  if (!found.ok()) return found.status();
  if (!found.value() || found.value()->length() == 0) return plan;
  const StreamMeta& m = *found.value();
  // Live ids are the contiguous range first_id..last_id: clip the bounds to it.
  plan.stream_id = m.stream_id;
  plan.lo = std::max(after, m.first_id - 1);
  plan.hi = std::min(before, m.last_id + 1);
  if (plan.lo >= plan.hi || plan.hi - plan.lo < 2) return plan;
  const uint64_t in_range = plan.hi - plan.lo - 1;
  plan.count = std::min(in_range, limit);
  plan.more = in_range > limit;
  return plan;
}

Status StreamRange(ShardStore& store, std::string_view stream, uint64_t after, uint64_t before,
                   uint64_t limit, bool from_start, std::vector<StreamEntry>* entries, bool* more) {
  auto plan = PlanStreamRange(store, stream, after, before, limit);
  if (!plan.ok()) return plan.status();
  *more = plan->more;
  if (plan->count == 0) return Status::Ok();
  LITESTASH_RETURN_IF_ERROR(
      store.streams().Range(plan->stream_id, plan->lo, plan->hi, plan->count, from_start, entries));
  if (!from_start) std::reverse(entries->begin(), entries->end());
  return Status::Ok();
}

Result<StreamInfo> StreamDescribe(ShardStore& store, std::string_view stream) {
  StreamTable& table = store.streams();
  auto found = table.Find(stream);
  if (!found.ok()) return found.status();
  StreamInfo info;
  if (!found.value()) return info;
  info.exists = true;
  info.meta = *found.value();
  if (info.meta.length() > 0) {
    auto first = table.TsOf(info.meta.stream_id, info.meta.first_id);
    if (!first.ok()) return first.status();
    auto last = table.TsOf(info.meta.stream_id, info.meta.last_id);
    if (!last.ok()) return last.status();
    info.first_ts = *first;
    info.last_ts = *last;
  }
  LITESTASH_RETURN_IF_ERROR(table.Groups(info.meta.stream_id, &info.groups));
  return info;
}

Result<bool> StreamDrop(ShardStore& store, std::string_view stream) {
  auto found = store.streams().Find(stream);
  if (!found.ok()) return found.status();
  if (!found.value()) return false;
  LITESTASH_RETURN_IF_ERROR(store.streams().Drop(stream, found.value()->stream_id));
  return true;
}

Status StreamCommitOffset(ShardStore& store, std::string_view stream, std::string_view group,
                          uint64_t entry_id) {
  auto found = store.streams().Find(stream);
  if (!found.ok()) return found.status();
  if (!found.value()) {
    return Status::InvalidArgument("stream " + Quoted(stream) + " does not exist");
  }
  if (entry_id > found.value()->last_id) {
    return Status::InvalidArgument("entry_id " + std::to_string(entry_id) +
                                   " is past the last entry of stream " + Quoted(stream) + " (" +
                                   std::to_string(found.value()->last_id) + ")");
  }
  return store.streams().SetGroup(found.value()->stream_id, group, entry_id);
}

Result<std::optional<uint64_t>> StreamOffset(ShardStore& store, std::string_view stream,
                                             std::string_view group) {
  auto found = store.streams().Find(stream);
  if (!found.ok()) return found.status();
  if (!found.value()) return std::optional<uint64_t>();
  return store.streams().GroupOffset(found.value()->stream_id, group);
}

Result<uint64_t> StreamSweepAged(ShardStore& store, const Clock& clock, uint64_t max_rows) {
  LITESTASH_RETURN_IF_ERROR(store.Begin(true));
  StreamTable& table = store.streams();
  uint64_t removed = 0;
  std::string after;
  Status st;
  while (st.ok() && removed < max_rows) {
    std::vector<std::pair<std::string, StreamMeta>> aged;
    st = table.WithAgeRetention(after, 64, &aged);
    for (size_t i = 0; st.ok() && i < aged.size() && removed < max_rows; ++i) {
      StreamMeta& m = aged[i].second;
      auto first = RetainedFrom(table, m, clock);
      if (!first.ok()) {
        st = first.status();
        break;
      }
      // At most the rows still allowed in this sweep.
      const uint64_t bounded = std::min(*first, m.first_id + (max_rows - removed));
      auto gone = TrimTo(table, aged[i].first, m, bounded);
      if (!gone.ok()) {
        st = gone.status();
        break;
      }
      removed += *gone;
    }
    if (aged.size() < 64) break;
    after = aged.back().first;
  }
  if (st.ok()) st = store.Commit();
  if (!st.ok()) {
    store.Rollback();
    return st.WithContext("sweeping aged stream entries");
  }
  return removed;
}

}  // namespace litestash
