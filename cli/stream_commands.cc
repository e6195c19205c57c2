// The stream commands: klite's ADD / GET ... FROM / TAIL / INFO / TRIM and the protocol's
// XADD / XGET / XRANGE / XREAD / XINFO / XTRIM / XDROP; see command.h.
#include <algorithm>

#include "cli/command_args.h"

namespace litestash::cli::command_internal {

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
  Args a(tokens,
         "TRIM stream MAXLEN n | XTRIM stream [--maxlen n] [--min-id id] "
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

// XCOMMIT stream group entry_id   and   XOFFSET stream group
Result<Command> ParseGroup(const std::vector<Token>& tokens) {
  bool commit = Upper(tokens[0].text) == "XCOMMIT";
  Args a(tokens, commit ? "XCOMMIT stream group entry_id" : "XOFFSET stream group");
  LS_TRY(a.Done(commit ? 3 : 2));
  Request r;
  r.Str("stream", a[0].text).Str("group", a[1].text);
  if (commit) {
    auto id = ParseUint(a[2], "the entry id");
    if (!id.ok()) return id.status();
    r.Uint("entry_id", *id);
  }
  std::string op = commit ? "xcommit" : "xoffset";
  return Simple(op, op, std::move(r));
}

}  // namespace litestash::cli::command_internal
