// ParseCommand() for the key, admin and meta commands, and the command table; see command.h.
#include "cli/command.h"

#include <algorithm>
#include <map>

#include "cli/command_args.h"
#include "cli/value_text.h"

namespace litestash::cli {
namespace {

using namespace command_internal;

using Parser = Result<Command> (*)(const std::vector<Token>&);

Result<Command> ParseSet(const std::vector<Token>& tokens) {
  Args a(tokens, "SET key value [EX seconds|PX ms|--ttl-ms ms] [IFVERSION v|--if-version v]");
  Request r;
  Request ttl;
  LS_TRY(a.TakeUint(2, {"EX"}, "ex", &ttl));
  LS_TRY(a.TakeUint(2, {"PX", "--ttl-ms"}, "ttl_ms", &ttl));
  LS_TRY(a.TakeUint(2, {"IFVERSION", "--if-version"}, "if_version", &ttl));
  LS_TRY(a.Done(2));
  auto v = Value(a[1]);
  if (!v.ok()) return v.status();
  r.Str("key", a[0].text).Raw("value", *v);
  for (auto& [name, packed] : ttl.fields) {
    if (name == "ex") {
      r.Uint("ttl_ms", *UintOf(packed) * 1000);
    } else {
      r.Raw(name, packed);
    }
  }
  return Simple("set", "set", std::move(r));
}

Result<Command> ParseGet(const std::vector<Token>& tokens) {
  if (tokens.size() >= 4 && !tokens[tokens.size() - 2].quoted &&
      Upper(tokens[tokens.size() - 2].text) == "FROM") {
    return KliteGet(tokens);
  }
  Args a(tokens, "GET key [AT version|--version v]");
  Request r;
  Request extra;
  LS_TRY(a.TakeUint(1, {"AT", "--version"}, "version", &extra));
  LS_TRY(a.Done(1));
  r.Str("key", a[0].text);
  for (auto& f : extra.fields) r.Raw(f.first, f.second);
  return Simple("get", "get", std::move(r));
}

Result<Command> ParseDel(const std::vector<Token>& tokens) {
  Args a(tokens, "DEL key [key...] | DEL key IFVERSION v");
  Request extra;
  LS_TRY(a.TakeUint(1, {"IFVERSION", "--if-version"}, "if_version", &extra));
  if (a.size() == 0) return a.Bad();
  if (a.size() == 1) {
    Request r;
    r.Str("key", a[0].text);
    for (auto& f : extra.fields) r.Raw(f.first, f.second);
    return Simple("delete", "delete", std::move(r));
  }
  if (!extra.fields.empty()) return a.Bad();
  std::vector<std::string> keys;
  for (size_t i = 0; i < a.size(); ++i) keys.push_back(PackStr(a[i].text));
  return Simple("mdelete", "mdelete", std::move(Request().Raw("keys", PackArray(keys))));
}

Result<Command> OneKey(const std::vector<Token>& tokens, const char* word, const char* op,
                       const char* usage) {
  Args a(tokens, usage);
  LS_TRY(a.Done(1));
  return Simple(word, op, std::move(Request().Str("key", a[0].text)));
}

Result<Command> ParseExists(const std::vector<Token>& t) {
  return OneKey(t, "exists", "exists", "EXISTS key");
}
Result<Command> ParseTtl(const std::vector<Token>& t) { return OneKey(t, "ttl", "ttl", "TTL key"); }
Result<Command> ParsePersist(const std::vector<Token>& t) {
  return OneKey(t, "persist", "persist", "PERSIST key");
}

Result<Command> ParseExpire(const std::vector<Token>& tokens) {
  bool ms = Upper(tokens[0].text) == "PEXPIRE";
  Args a(tokens, ms ? "PEXPIRE key ms" : "EXPIRE key seconds");
  LS_TRY(a.Done(2));
  auto n = ParseUint(a[1], ms ? "ms" : "seconds");
  if (!n.ok()) return n.status();
  Request r;
  r.Str("key", a[0].text).Uint("ttl_ms", ms ? *n : *n * 1000);
  return Simple("expire", "expire", std::move(r));
}

Result<Command> ParseVersions(const std::vector<Token>& tokens) {
  Args a(tokens, "VERSIONS key [--limit n] [--before v]");
  Request extra;
  LS_TRY(a.TakeUint(1, {"LIMIT", "--limit"}, "limit", &extra));
  LS_TRY(a.TakeUint(1, {"BEFORE", "--before"}, "before", &extra));
  LS_TRY(a.Done(1));
  Request r;
  r.Str("key", a[0].text);
  for (auto& f : extra.fields) r.Raw(f.first, f.second);
  return Simple("versions", "versions", std::move(r));
}

Result<Command> ParseMget(const std::vector<Token>& tokens) {
  Args a(tokens, "MGET key [key...]");
  if (a.size() == 0) return a.Bad();
  std::vector<std::string> keys;
  for (size_t i = 0; i < a.size(); ++i) keys.push_back(PackStr(a[i].text));
  return Simple("mget", "mget", std::move(Request().Raw("keys", PackArray(keys))));
}

Result<Command> ParseMset(const std::vector<Token>& tokens) {
  Args a(tokens, "MSET key value [key value...] [--ttl-ms ms]");
  Request extra;
  LS_TRY(a.TakeUint(1, {"PX", "--ttl-ms"}, "ttl_ms", &extra));
  if (a.size() == 0 || a.size() % 2) return a.Bad();
  std::vector<std::string> entries;
  for (size_t i = 0; i < a.size(); i += 2) {
    auto v = Value(a[i + 1]);
    if (!v.ok()) return v.status();
    entries.push_back(PackArray({PackStr(a[i].text), *v}));
  }
  Request r;
  r.Raw("entries", PackArray(entries));
  for (auto& f : extra.fields) r.Raw(f.first, f.second);
  return Simple("mset", "mset", std::move(r));
}

Result<Command> ParseScan(const std::vector<Token>& tokens) {
  bool streams = Upper(tokens[0].text) != "SCAN";
  Args a(tokens, streams ? "STREAMS [prefix]" : "SCAN [prefix]");
  if (a.size() > 1) return a.Bad();
  Command c;
  c.kind = streams ? CommandKind::kStreamsAll : CommandKind::kScanAll;
  c.word = streams ? "xstreams" : "scan";
  c.request.op = streams ? "xstreams" : "scan";
  if (a.size() == 1) c.request.Str("prefix", a[0].text);
  return c;
}

Result<Command> NoArgs(const std::vector<Token>& tokens) {
  std::string op = tokens[0].text;
  std::transform(op.begin(), op.end(), op.begin(), ::tolower);
  Args a(tokens, Upper(op));
  LS_TRY(a.Done(0));
  return Simple(op, op);
}

Result<Command> ParseCompact(const std::vector<Token>& tokens) {
  Args a(tokens, "COMPACT [--keep-versions n]");
  Request r;
  LS_TRY(a.TakeUint(0, {"KEEP_VERSIONS", "--keep-versions"}, "keep_versions", &r));
  LS_TRY(a.Done(0));
  return Simple("compact", "compact", std::move(r));
}

Result<Command> ParseBackup(const std::vector<Token>& tokens) {
  Args a(tokens, "BACKUP dir");
  LS_TRY(a.Done(1));
  return Simple("backup", "backup", std::move(Request().Str("dir", a[0].text)));
}

Result<Command> ParseMeta(const std::vector<Token>& tokens) {
  std::string w = Upper(tokens[0].text);
  if (tokens.size() != 1) return Usage("usage: " + w);
  Command c;
  c.word = w;
  c.kind = w == "TXN"       ? CommandKind::kTxnBegin
           : w == "END"     ? CommandKind::kTxnEnd
           : w == "DISCARD" ? CommandKind::kTxnDiscard
           : w == "HELP"    ? CommandKind::kHelp
                            : CommandKind::kQuit;
  return c;
}

const std::map<std::string, Parser>& Parsers() {
  static const auto* parsers = new std::map<std::string, Parser>{
      {"SET", ParseSet},           {"GET", ParseGet},
      {"DEL", ParseDel},           {"DELETE", ParseDel},
      {"EXISTS", ParseExists},     {"MGET", ParseMget},
      {"MSET", ParseMset},         {"SCAN", ParseScan},
      {"TTL", ParseTtl},           {"EXPIRE", ParseExpire},
      {"PEXPIRE", ParseExpire},    {"PERSIST", ParsePersist},
      {"VERSIONS", ParseVersions}, {"COUNT", NoArgs},
      {"STATS", NoArgs},           {"PING", NoArgs},
      {"HELLO", NoArgs},           {"SYNC", NoArgs},
      {"COMPACT", ParseCompact},   {"BACKUP", ParseBackup},
      {"ADD", ParseAdd},           {"XADD", ParseAdd},
      {"XGET", ParseXget},         {"XRANGE", ParseXrange},
      {"XREAD", ParseXrange},      {"TAIL", ParseStreamOnly},
      {"INFO", ParseStreamOnly},   {"XINFO", ParseStreamOnly},
      {"XDROP", ParseStreamOnly},  {"TRIM", ParseTrim},
      {"XTRIM", ParseTrim},        {"XCOMMIT", ParseGroup},
      {"XOFFSET", ParseGroup},     {"STREAMS", ParseScan},
      {"XSTREAMS", ParseScan},     {"TXN", ParseMeta},
      {"END", ParseMeta},          {"DISCARD", ParseMeta},
      {"HELP", ParseMeta},         {"QUIT", ParseMeta},
      {"EXIT", ParseMeta},
  };
  return *parsers;
}

}  // namespace

Result<Command> ParseCommand(const std::vector<Token>& tokens) {
  if (tokens.empty()) return Usage("empty command");
  auto it = Parsers().find(Upper(tokens[0].text));
  if (tokens[0].quoted || it == Parsers().end()) {
    return Usage("unknown command '" + tokens[0].text + "' (try HELP)");
  }
  return it->second(tokens);
}

const std::vector<std::string>& CommandWords() {
  static const auto* words = [] {
    auto* w = new std::vector<std::string>;
    for (const auto& [word, parser] : Parsers()) w->push_back(word);
    for (const char* kw :
         {"FROM", "AFTER", "BEFORE", "TO", "MAXLEN", "EX", "PX", "IFVERSION", "AT"}) {
      w->push_back(kw);
    }
    return w;
  }();
  return *words;
}

}  // namespace litestash::cli

namespace litestash::cli {

std::string HelpText() {
  return R"(Streams (klite):
  ADD value TO s [MAXLEN n]        append; prints the entry id
  GET 7 FROM s | GET 7, 9 FROM s   entries by id
  GET n AFTER id FROM s            the n entries after id
  GET n BEFORE id FROM s           the n entries before id
  TAIL s                           the last entries, then follow (Ctrl-C stops)
  STREAMS [prefix] | INFO s | TRIM s MAXLEN n | XDROP s | XCOMMIT s group id | XOFFSET s group
Keys:
  SET k v [EX s|PX ms] [IFVERSION v]    GET k [AT version]     DEL k [k...]
  EXISTS k   MGET k...   MSET k v [k v...]   SCAN [prefix]   TTL k   EXPIRE k s
  PERSIST k  VERSIONS k  COUNT  STATS  COMPACT  BACKUP dir  PING  HELLO  SYNC
  TXN ... END        collect SET/DEL/ADD lines, send them as one transaction (DISCARD drops)
Values: JSON ("text", 42, 1.5, {"a": [1, true, null]}), a bare word (a string), or
  bin:HEX  b64:BASE64  f32:1.5  f32:[0.1, 0.2]  f64:2  ext:TYPE:HEX  str:TEXT  mp:HEX
Command words are case-insensitive. QUIT or Ctrl-D leaves.
)";
}

}  // namespace litestash::cli
