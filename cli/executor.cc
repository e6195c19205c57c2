// Execute(): one Command against the engine; see executor.h.
#include "cli/executor.h"

#include "cli/output.h"

namespace litestash::cli {
namespace {

constexpr uint64_t kPage = 1000;
constexpr uint64_t kTailBacklog = 10;
constexpr uint64_t kTailWaitMs = 30000;

int Failed(const Status& st, std::ostream& err) {
  if (st.code() == StatusCode::kShuttingDown) {
    err << "(interrupted)\n";
    return kExitErrorAnswer;
  }
  err << "litestash-cli: " << st.message() << "\n";
  return kExitEngine;
}

int PrintError(const Answer& a, ValueStyle style, std::ostream& out, std::ostream& err) {
  (style == ValueStyle::kJson ? err : out) << FormatError(a, style) << "\n";
  return kExitErrorAnswer;
}

// scan / xstreams: every page, printed as one list.
int All(EngineClient& client, const Command& command, ValueStyle style, std::ostream& out,
        std::ostream& err) {
  const char* list = command.kind == CommandKind::kScanAll ? "keys" : "streams";
  std::vector<std::string> names;
  std::optional<std::string> after;
  for (;;) {
    Request r = command.request;
    r.Uint("limit", kPage);
    if (after) r.Str("after", *after);
    auto a = client.Call(r);
    if (!a.ok()) return Failed(a.status(), err);
    if (!a->ok()) return PrintError(*a, style, out, err);
    for (auto item : a->Items(list)) names.push_back(StrOf(item).value_or(""));
    if (!a->Bool("more") || names.empty()) break;
    after = names.back();
  }
  if (style == ValueStyle::kJson) {
    out << "[";
    for (size_t i = 0; i < names.size(); ++i) out << (i ? ", " : "") << JsonQuote(names[i]);
    out << "]\n";
  } else if (names.empty()) {
    out << "(empty)\n";
  } else {
    for (size_t i = 0; i < names.size(); ++i) out << i + 1 << ") " << JsonQuote(names[i]) << "\n";
  }
  return kExitOk;
}

int Tail(EngineClient& client, const Command& command, ValueStyle style, std::ostream& out,
         std::ostream& err) {
  auto info = client.Call(Request("xinfo").Str("stream", command.name));
  if (!info.ok()) return Failed(info.status(), err);
  if (!info->ok()) return PrintError(*info, style, out, err);
  uint64_t last = info->Uint("last_id").value_or(0);
  auto print = [&](const Answer& a) {
    for (auto e : a.Items("entries")) {
      auto parts = ItemsOf(e);
      if (parts.size() != 3) continue;
      if (style == ValueStyle::kJson) {  // one JSON object per line
        out << "{\"entry_id\": " << FormatValue(parts[0], style)
            << ", \"ts\": " << FormatValue(parts[1], style)
            << ", \"value\": " << FormatValue(parts[2], style) << "}\n";
      } else {
        out << FormatEntry(e, style) << "\n";
      }
      last = std::max(last, UintOf(parts[0]).value_or(last));
    }
    out.flush();
  };
  if (last > 0) {
    auto backlog = client.Call(Request("xrange")
                                   .Str("stream", command.name)
                                   .Uint("before", last + 1)
                                   .Uint("limit", kTailBacklog));
    if (!backlog.ok()) return Failed(backlog.status(), err);
    if (!backlog->ok()) return PrintError(*backlog, style, out, err);
    print(*backlog);
  }
  if (style == ValueStyle::kDisplay) out << "(following " << command.name << ", Ctrl-C stops)\n";
  out.flush();
  for (;;) {
    uint64_t id = client.Send(Request("xread")
                                  .Str("stream", command.name)
                                  .Uint("after", last)
                                  .Uint("limit", 100)
                                  .Uint("wait_ms", kTailWaitMs));
    auto a = client.Receive(id);
    if (!a.ok()) {
      if (a.status().code() == StatusCode::kShuttingDown) {
        client.Abandon(id);
        EngineClient::ClearInterrupt();
        if (style == ValueStyle::kDisplay) out << "(stopped)\n";
        return kExitOk;
      }
      return Failed(a.status(), err);
    }
    if (!a->ok()) return PrintError(*a, style, out, err);
    print(*a);
  }
}

}  // namespace

int Execute(EngineClient& client, const Command& command, ValueStyle style, std::ostream& out,
            std::ostream& err) {
  switch (command.kind) {
    case CommandKind::kScanAll:
    case CommandKind::kStreamsAll:
      return All(client, command, style, out, err);
    case CommandKind::kTail:
      return Tail(client, command, style, out, err);
    case CommandKind::kRequest:
      break;
    default:
      err << "litestash-cli: " << command.word << " works only in the REPL\n";
      return kExitUsage;
  }
  return PrintOutcome(command, client.Call(command.request), style, out, err);
}

int PrintOutcome(const Command& command, const Result<Answer>& answer, ValueStyle style,
                 std::ostream& out, std::ostream& err) {
  if (!answer.ok()) return Failed(answer.status(), err);
  if (!answer->ok()) return PrintError(*answer, style, out, err);
  out << FormatAnswer(command.word, *answer, style, command.request) << "\n";
  return kExitOk;
}

bool Pipelinable(const Command& command) {
  static const char* kOps[] = {"set",     "get",     "delete", "mdelete", "exists",   "mget",
                               "mset",    "ttl",     "expire", "persist", "versions", "count",
                               "xadd",    "xget",    "xrange", "xinfo",   "xtrim",    "xdrop",
                               "xcommit", "xoffset", "ping",   "hello",   "stats",    "txn"};
  if (command.kind != CommandKind::kRequest) return false;
  for (const char* op : kOps) {
    if (command.request.op == op) return true;
  }
  return false;
}

}  // namespace litestash::cli
