// The command language of litestash-cli: one line (REPL) or one argv (one-shot) -> a Command.
//
// Tokenize() splits a REPL line on blanks; a token may be a JSON string ("a b"), a JSON
// object or array ({"a": [1, 2]}: blanks inside brackets do not split), or a 'single-quoted'
// literal. A Token keeps both its text (quotes removed: what a key or a name means) and its
// source (what a value means: `"42"` is the str 42, `42` the int).
//
// ParseCommand() knows three families, case-insensitive in their command and keyword words:
//   klite streams: ADD v TO s, GET 7[, 9...] FROM s, GET n AFTER id FROM s,
//                  GET n BEFORE id FROM s, TAIL s, STREAMS [prefix], INFO s, TRIM s MAXLEN n
//   redis-like:    SET k v [EX s|PX ms] [IFVERSION v], GET k [AT v], DEL k..., EXISTS k,
//                  MGET k..., MSET k v ..., SCAN [prefix], TTL k, EXPIRE k s, PERSIST k,
//                  VERSIONS k, COUNT, STATS, TXN / END / DISCARD
//   protocol ops:  XADD s v, XGET s id..., XRANGE s, XREAD s after, XINFO s, XTRIM s,
//                  XSTREAMS, XDROP s, XCOMMIT s group id, XOFFSET s group, PING, HELLO,
//                  SYNC, COMPACT, BACKUP dir
// One-shot spellings are accepted too: `--ttl-ms N`, `--if-version V`, `--version V`,
// `--after N`, `--before N`, `--limit N`, `--maxlen N`, `--max-age-ms N`, `--wait-ms N`.
// Every error is an InvalidArgument status whose message says what was expected.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cli/request.h"
#include "common/status.h"

namespace litestash::cli {

struct Token {
  std::string text;    // quotes removed, escapes decoded
  std::string source;  // as typed
  bool quoted = false;
};

Result<std::vector<Token>> Tokenize(std::string_view line);
// argv words: each is one token, taken as typed (the shell already removed its quotes).
std::vector<Token> TokensFromArgs(const std::vector<std::string>& args);

enum class CommandKind {
  kRequest,     // send `request`, print its answer
  kScanAll,     // scan pages until `more` is false (request holds prefix/limit)
  kStreamsAll,  // xstreams pages likewise
  kTail,        // follow stream `name` with blocking xread
  kTxnBegin,
  kTxnEnd,
  kTxnDiscard,
  kHelp,
  kQuit,
};

struct Command {
  CommandKind kind = CommandKind::kRequest;
  std::string word;  // how the answer is printed: "set", "get", "xget", "xrange", ...
  Request request;
  std::string name;  // kTail: the stream
};

Result<Command> ParseCommand(const std::vector<Token>& tokens);

// The command words, upper case, for completion and HELP.
const std::vector<std::string>& CommandWords();
// One screen of help.
std::string HelpText();

// A txn request from the SET/DEL/ADD/XADD commands collected between TXN and END: each
// command becomes one `ops` map; an if_version becomes a `checks` pair.
Result<Request> BuildTxn(const std::vector<Command>& commands);

}  // namespace litestash::cli
