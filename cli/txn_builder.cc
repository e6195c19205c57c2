// BuildTxn(): the lines collected between TXN and END as one txn request; see command.h.
#include "cli/command.h"

namespace litestash::cli {
namespace {

Status Usage(std::string_view what) { return Status::InvalidArgument(std::string(what)); }

}  // namespace

Result<Request> BuildTxn(const std::vector<Command>& commands) {
  std::vector<std::string> ops, checks;
  for (const Command& c : commands) {
    const std::string& op = c.request.op;
    if (c.kind != CommandKind::kRequest || (op != "set" && op != "delete" && op != "xadd")) {
      return Usage("a TXN holds only SET, DEL (one key), ADD and XADD");
    }
    std::vector<std::pair<std::string, std::string>> fields{{"op", PackStr(op)}};
    std::string key;
    for (const auto& [name, packed] : c.request.fields) {
      if (name == "if_version") {
        checks.push_back(PackArray({PackStr(key), packed}));
        continue;
      }
      if (name == "maxlen" || name == "max_age_ms") {
        return Usage("retention (MAXLEN) is not taken inside a TXN");
      }
      if (name == "key") key = *StrOf(packed);
      fields.emplace_back(name, packed);
    }
    ops.push_back(PackMap(fields));
  }
  if (ops.empty()) return Usage("an empty TXN");
  Request r("txn");
  if (!checks.empty()) r.Raw("checks", PackArray(checks));
  r.Raw("ops", PackArray(ops));
  return r;
}

}  // namespace litestash::cli
