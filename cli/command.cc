// Tokenize() and ParseCommand(): see command.h for the language.
#include "cli/command.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "cli/value_text.h"

namespace litestash::cli {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Status Usage(std::string_view what) { return Status::InvalidArgument(std::string(what)); }

Result<uint64_t> ParseUint(const Token& t, std::string_view what) {
  uint64_t v;
  auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
  if (t.text.empty() || r.ec != std::errc() || r.ptr != t.text.data() + t.text.size()) {
    return Usage(std::string(what) + " must be a non-negative integer, got '" + t.text + "'");
  }
  return v;
}

// The tokens of one command after its word, with keyword and --flag lookup.
class Args {
 public:
  Args(const std::vector<Token>& tokens, std::string usage)
      : t_(tokens.begin() + 1, tokens.end()), usage_(std::move(usage)) {}

  size_t size() const { return t_.size(); }
  const Token& operator[](size_t i) const { return t_[i]; }
  Status Bad() const { return Usage("usage: " + usage_); }
  bool IsWord(size_t i, std::string_view w) const {
    return i < t_.size() && !t_[i].quoted && Upper(t_[i].text) == w;
  }
  // Removes `KEYWORD n` (or `--flag n`) anywhere after position `from` and stores n.
  Status TakeUint(size_t from, std::initializer_list<std::string_view> names, const char* field,
                  Request* r) {
    for (size_t i = from; i + 1 < t_.size(); ++i) {
      if (t_[i].quoted) continue;
      for (auto name : names) {
        bool flag = name.starts_with("--");
        if ((flag && t_[i].text == name) || (!flag && Upper(t_[i].text) == name)) {
          auto v = ParseUint(t_[i + 1], name);
          if (!v.ok()) return v.status();
          r->Uint(field, *v);
          t_.erase(t_.begin() + i, t_.begin() + i + 2);
          return Status::Ok();
        }
      }
    }
    return Status::Ok();
  }
  Status Done(size_t expected) const { return t_.size() == expected ? Status::Ok() : Bad(); }

 private:
  std::vector<Token> t_;
  std::string usage_;
};

Result<std::string> Value(const Token& t) {
  auto v = ParseValue(t.source);
  if (!v.ok()) return Status::InvalidArgument("value " + t.source + ": " + v.status().message());
  return v;
}

Result<Command> Simple(std::string word, std::string op, Request r = Request()) {
  Command c;
  c.word = std::move(word);
  r.op = std::move(op);
  c.request = std::move(r);
  return c;
}

#define LS_TRY(expr)                    \
  do {                                  \
    if (Status _s = (expr); !_s.ok()) { \
      return _s;                        \
    }                                   \
  } while (0)

// GET ... FROM s (klite): `GET 7 FROM s`, `GET 7, 9 FROM s`, `GET n AFTER id FROM s`,
// `GET n BEFORE id FROM s`.
Result<Command> KliteGet(const std::vector<Token>& tokens) {
  const char* usage = "GET id[, id...] FROM stream | GET n AFTER|BEFORE id FROM stream";
  std::string stream = tokens.back().text;
  std::vector<Token> mid(tokens.begin() + 1, tokens.end() - 2);
  Request r;
  r.Str("stream", stream);
  if (mid.size() == 3 && !mid[1].quoted &&
      (Upper(mid[1].text) == "AFTER" || Upper(mid[1].text) == "BEFORE")) {
    auto n = ParseUint(mid[0], "the count");
    auto id = ParseUint(mid[2], "the entry id");
    if (!n.ok()) return n.status();
    if (!id.ok()) return id.status();
    r.Uint(Upper(mid[1].text) == "AFTER" ? "after" : "before", *id).Uint("limit", *n);
    return Simple("xrange", "xrange", std::move(r));
  }
  std::string joined;
  for (const auto& t : mid) joined += t.text + " ";
  std::vector<std::string> ids;
  size_t pos = 0;
  while (pos <= joined.size()) {
    size_t comma = joined.find(',', pos);
    std::string part = joined.substr(pos, comma == std::string::npos ? comma : comma - pos);
    part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
    Token t{part, part, false};
    auto id = ParseUint(t, "an entry id");
    if (!id.ok()) return Usage(std::string("usage: ") + usage);
    ids.push_back(PackUint(*id));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  r.Raw("ids", PackArray(ids));
  return Simple("xget", "xget", std::move(r));
}

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

// ADD value TO stream [MAXLEN n]   and   XADD stream value [--maxlen n] [--max-age-ms ms]
Result<Command> ParseAdd(const std::vector<Token>& tokens) {
  bool klite = Upper(tokens[0].text) == "ADD";
  Args a(tokens, klite ? "ADD value TO stream [MAXLEN n]"
                       : "XADD stream value [--maxlen n] [--max-age-ms ms]");
  Request extra;
  LS_TRY(a.TakeUint(1, {"MAXLEN", "--maxlen"}, "maxlen", &extra));
  LS_TRY(a.TakeUint(1, {"MAX_AGE_MS", "--max-age-ms"}, "max_age_ms", &extra));
  size_t vi = klite ? 0 : 1, si = klite ? 2 : 0;
  if (klite && !a.IsWord(1, "TO")) return a.Bad();
  LS_TRY(a.Done(klite ? 3 : 2));
  auto v = Value(a[vi]);
  if (!v.ok()) return v.status();
  Request r;
  r.Str("stream", a[si].text).Raw("value", *v);
  for (auto& f : extra.fields) r.Raw(f.first, f.second);
  return Simple("xadd", "xadd", std::move(r));
}

Result<Command> ParseXget(const std::vector<Token>& tokens) {
  Args a(tokens, "XGET stream id [id...]");
  if (a.size() < 2) return a.Bad();
  std::vector<std::string> ids;
  for (size_t i = 1; i < a.size(); ++i) {
    auto id = ParseUint(a[i], "an entry id");
    if (!id.ok()) return id.status();
    ids.push_back(PackUint(*id));
  }
  Request r;
  r.Str("stream", a[0].text).Raw("ids", PackArray(ids));
  return Simple("xget", "xget", std::move(r));
}

Result<Command> ParseXrange(const std::vector<Token>& tokens) {
  bool read = Upper(tokens[0].text) == "XREAD";
  Args a(tokens, read ? "XREAD stream after [--limit n] [--wait-ms ms]"
                      : "XRANGE stream [--after id] [--before id] [--limit n]");
  Request r;
  r.Str("stream", a.size() ? a[0].text : "");
  LS_TRY(a.TakeUint(1, {"AFTER", "--after"}, "after", &r));
  LS_TRY(a.TakeUint(1, {"BEFORE", "--before"}, "before", &r));
  LS_TRY(a.TakeUint(1, {"LIMIT", "--limit"}, "limit", &r));
  LS_TRY(a.TakeUint(1, {"WAIT_MS", "--wait-ms"}, "wait_ms", &r));
  if (read) {
    LS_TRY(a.Done(2));
    auto after = ParseUint(a[1], "after");
    if (!after.ok()) return after.status();
    r.Uint("after", *after);
  } else {
    LS_TRY(a.Done(1));
  }
  return Simple("xrange", read ? "xread" : "xrange", std::move(r));
}

Result<Command> ParseStreamOnly(const std::vector<Token>& tokens) {
  std::string w = Upper(tokens[0].text);
  Args a(tokens, w + " stream");
  LS_TRY(a.Done(1));
  if (w == "TAIL") {
    Command c;
    c.kind = CommandKind::kTail;
    c.word = "tail";
    c.name = a[0].text;
    return c;
  }
  std::string op = w == "INFO" || w == "XINFO" ? "xinfo" : "xdrop";
  return Simple(op, op, std::move(Request().Str("stream", a[0].text)));
}

// TRIM s MAXLEN n   and   XTRIM s [--maxlen n] [--min-id id] [--max-age-ms ms]
Result<Command> ParseTrim(const std::vector<Token>& tokens) {
  Args a(tokens, "TRIM stream MAXLEN n | XTRIM stream [--maxlen n] [--min-id id] "
                 "[--max-age-ms ms]");
  Request r;
  r.Str("stream", a.size() ? a[0].text : "");
  LS_TRY(a.TakeUint(1, {"MAXLEN", "--maxlen"}, "maxlen", &r));
  LS_TRY(a.TakeUint(1, {"MINID", "--min-id"}, "min_id", &r));
  LS_TRY(a.TakeUint(1, {"MAXAGE", "--max-age-ms"}, "max_age_ms", &r));
  LS_TRY(a.Done(1));
  if (r.fields.size() < 2) return a.Bad();
  return Simple("xtrim", "xtrim", std::move(r));
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
      {"SET", ParseSet},           {"GET", ParseGet},         {"DEL", ParseDel},
      {"DELETE", ParseDel},        {"EXISTS", ParseExists},   {"MGET", ParseMget},
      {"MSET", ParseMset},         {"SCAN", ParseScan},       {"TTL", ParseTtl},
      {"EXPIRE", ParseExpire},     {"PEXPIRE", ParseExpire},  {"PERSIST", ParsePersist},
      {"VERSIONS", ParseVersions}, {"COUNT", NoArgs},         {"STATS", NoArgs},
      {"PING", NoArgs},            {"HELLO", NoArgs},         {"SYNC", NoArgs},
      {"COMPACT", ParseCompact},   {"BACKUP", ParseBackup},   {"ADD", ParseAdd},
      {"XADD", ParseAdd},          {"XGET", ParseXget},       {"XRANGE", ParseXrange},
      {"XREAD", ParseXrange},      {"TAIL", ParseStreamOnly}, {"INFO", ParseStreamOnly},
      {"XINFO", ParseStreamOnly},  {"XDROP", ParseStreamOnly}, {"TRIM", ParseTrim},
      {"XTRIM", ParseTrim},        {"STREAMS", ParseScan},    {"XSTREAMS", ParseScan},
      {"TXN", ParseMeta},          {"END", ParseMeta},        {"DISCARD", ParseMeta},
      {"HELP", ParseMeta},         {"QUIT", ParseMeta},       {"EXIT", ParseMeta},
  };
  return *parsers;
}

}  // namespace

std::vector<Token> TokensFromArgs(const std::vector<std::string>& args) {
  std::vector<Token> out;
  for (const auto& a : args) out.push_back(Token{a, a, false});
  return out;
}

Result<std::vector<Token>> Tokenize(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ' || line[i] == '\t') {
      ++i;
      continue;
    }
    size_t start = i;
    Token t;
    if (line[i] == '\'') {
      size_t end = line.find('\'', i + 1);
      if (end == std::string_view::npos) return Usage("unterminated ' quote");
      t.text = std::string(line.substr(i + 1, end - i - 1));
      t.source = JsonQuote(t.text);
      t.quoted = true;
      out.push_back(std::move(t));
      i = end + 1;
      continue;
    }
    // A word, a JSON string or a bracketed JSON value; strings inside brackets are skipped
    // whole so their blanks and brackets do not count.
    int depth = 0;
    bool in_str = false;
    while (i < line.size()) {
      char c = line[i];
      if (in_str) {
        if (c == '\\') ++i;
        else if (c == '"') in_str = false;
      } else if (c == '"') {
        in_str = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        --depth;
      } else if ((c == ' ' || c == '\t') && depth <= 0) {
        break;
      }
      ++i;
    }
    if (in_str) return Usage("unterminated \" quote");
    t.source = std::string(line.substr(start, std::min(i, line.size()) - start));
    t.text = t.source;
    if (t.source.size() >= 2 && t.source.front() == '"' && t.source.back() == '"') {
      auto packed = JsonToMsgpack(t.source);
      auto s = packed.ok() ? StrOf(*packed) : std::nullopt;
      if (!s) return Usage("bad string " + t.source);
      t.text = *s;
      t.quoted = true;
    }
    out.push_back(std::move(t));
  }
  return out;
}

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
    for (const char* kw : {"FROM", "AFTER", "BEFORE", "TO", "MAXLEN", "EX", "PX", "IFVERSION",
                           "AT"}) {
      w->push_back(kw);
    }
    return w;
  }();
  return *words;
}

Result<Request> BuildTxn(const std::vector<Command>& commands) {
  std::vector<std::string> ops, checks;
  for (const Command& c : commands) {
    const std::string& op = c.request.op;
    if (c.kind != CommandKind::kRequest || (op != "set" && op != "delete" && op != "xadd")) {
      return Usage("a TXN holds only SET, DEL (one key), ADD and XADD");
    }
    std::vector<std::string> pairs;
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
      pairs.push_back(PackStr(name) + packed);
    }
    std::string map = "\x80";
    map[0] = static_cast<char>(0x80 | (pairs.size() + 1));
    map += PackStr("op") + PackStr(op);
    for (const auto& p : pairs) map += p;
    ops.push_back(std::move(map));
  }
  if (ops.empty()) return Usage("an empty TXN");
  Request r("txn");
  if (!checks.empty()) r.Raw("checks", PackArray(checks));
  r.Raw("ops", PackArray(ops));
  return r;
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
  STREAMS [prefix] | INFO s | TRIM s MAXLEN n | XDROP s
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
