// The maintenance family: `compact` (engine/compact_op.h) and `backup` (engine/backup_op.h) —
// online work over every shard, scheduled by their own ops rather than one part per shard.
#include "engine/backup_op.h"
#include "engine/command_registry.h"
#include "engine/compact_op.h"

namespace litestash {
namespace {

using fields::Of;
using fields::Uint;

std::shared_ptr<FanOutOp> MakeCompact(SharedRequest req, const EngineContext&, FrameSink* out) {
  return std::make_shared<CompactOp>(std::move(req), out);
}

std::shared_ptr<FanOutOp> MakeBackup(SharedRequest req, const EngineContext& ctx, FrameSink* out) {
  return std::make_shared<BackupOp>(std::move(req), out, ctx.jobs);
}

}  // namespace

Status RegisterMaintenanceFamily(CommandRegistry& r) {
  CommandRow compact{MakeSchema("compact", Routing::kAllShards, true,
                                {Uint("keep_versions", false, 0, kKeepAllVersions)}, "compact")};
  compact.fan_out = MakeCompact;
  CommandRow backup{MakeSchema("backup", Routing::kAllShards, false,
                               {Of("dir", FieldType::kPath, true)}, "backup")};
  backup.fan_out = MakeBackup;
  LITESTASH_RETURN_IF_ERROR(r.Add(std::move(compact)));
  return r.Add(std::move(backup));
}

}  // namespace litestash
