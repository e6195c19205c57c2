#include "cli/command.h"

#include <catch2/catch.hpp>

#include "cli/value_text.h"

namespace litestash::cli {
namespace {

Command Parse(std::string_view line) {
  auto tokens = Tokenize(line);
  REQUIRE(tokens.ok());
  auto c = ParseCommand(*tokens);
  INFO(line);
  REQUIRE(c.ok());
  return std::move(c).value();
}

bool Fails(std::string_view line) {
  auto tokens = Tokenize(line);
  return !tokens.ok() || !ParseCommand(*tokens).ok();
}

// The request's fields as "name=value" with values in display style, in order.
std::string Fields(const Command& c) {
  std::string out = c.request.op;
  for (const auto& [name, packed] : c.request.fields) {
    out += " " + name + "=" + FormatValue(packed, ValueStyle::kDisplay);
  }
  return out;
}

TEST_CASE("Tokenize keeps JSON values and quoted strings whole") {
  auto t = Tokenize(R"(SET "my key" {"a": [1, "x y"]}  'it''s' bin:00)");
  REQUIRE(t.ok());
  REQUIRE(t->size() == 6);
  CHECK((*t)[1].text == "my key");
  CHECK((*t)[1].quoted);
  CHECK((*t)[2].source == R"({"a": [1, "x y"]})");
  CHECK((*t)[3].text == "it");
  CHECK((*t)[4].text == "s");
  CHECK((*t)[5].text == "bin:00");
  CHECK_FALSE(Tokenize("SET k \"open").ok());
  CHECK_FALSE(Tokenize("SET k 'open").ok());
}

TEST_CASE("klite stream commands") {
  CHECK(Fields(Parse(R"(ADD "data" TO s)")) == R"(xadd stream="s" value="data")");
  CHECK(Fields(Parse("add 5 to s maxlen 10")) == R"(xadd stream="s" value=5 maxlen=10)");
  CHECK(Fields(Parse("GET 7 FROM s")) == R"(xget stream="s" ids=[7])");
  CHECK(Fields(Parse("GET 7, 9 FROM s")) == R"(xget stream="s" ids=[7, 9])");
  CHECK(Fields(Parse("get 7,9,11 from s")) == R"(xget stream="s" ids=[7, 9, 11])");
  CHECK(Fields(Parse("GET 10 AFTER 7 FROM s")) == R"(xrange stream="s" after=7 limit=10)");
  CHECK(Fields(Parse("GET 10 BEFORE 7 FROM s")) == R"(xrange stream="s" before=7 limit=10)");
  CHECK(Parse("TAIL s").kind == CommandKind::kTail);
  CHECK(Parse("tail s").name == "s");
  CHECK(Parse("STREAMS").kind == CommandKind::kStreamsAll);
  CHECK(Fields(Parse("INFO s")) == R"(xinfo stream="s")");
  CHECK(Fields(Parse("TRIM s MAXLEN 3")) == R"(xtrim stream="s" maxlen=3)");
  CHECK(Fails("ADD x INTO s"));
  CHECK(Fails("GET x FROM s"));
  CHECK(Fails("GET 10 AFTER x FROM s"));
  CHECK(Fails("TRIM s"));
}

TEST_CASE("redis-like key commands") {
  CHECK(Fields(Parse("SET k v")) == R"(set key="k" value="v")");
  CHECK(Fields(Parse("set k 42 EX 5")) == R"(set key="k" value=42 ttl_ms=5000)");
  CHECK(Fields(Parse("SET k f32:1.5 PX 250 IFVERSION 9")) ==
        R"(set key="k" value=(float32) 1.5 ttl_ms=250 if_version=9)");
  CHECK(Fields(Parse("set k v --ttl-ms 7 --if-version 0")) ==
        R"(set key="k" value="v" ttl_ms=7 if_version=0)");
  CHECK(Fields(Parse(R"(SET k "42")")) == R"(set key="k" value="42")");
  CHECK(Fields(Parse("GET k")) == R"(get key="k")");
  CHECK(Fields(Parse("GET k AT 17")) == R"(get key="k" version=17)");
  CHECK(Fields(Parse("GET FROM")) == R"(get key="FROM")");
  CHECK(Fields(Parse("DEL a")) == R"(delete key="a")");
  CHECK(Fields(Parse("DEL a b")) == R"(mdelete keys=["a", "b"])");
  CHECK(Fields(Parse("MGET a b")) == R"(mget keys=["a", "b"])");
  CHECK(Fields(Parse("MSET a 1 b [2]")) == R"(mset entries=[["a", 1], ["b", [2]]])");
  CHECK(Fields(Parse("EXPIRE k 2")) == R"(expire key="k" ttl_ms=2000)");
  CHECK(Fields(Parse("VERSIONS k")) == R"(versions key="k")");
  CHECK(Fields(Parse("count")) == "count");
  CHECK(Parse("SCAN user:").kind == CommandKind::kScanAll);
  CHECK(Fields(Parse("SCAN user:")) == R"(scan prefix="user:")");
  CHECK(Fails("SET k"));
  CHECK(Fails("SET k v EX"));
  CHECK(Fails("SET k v EX -1"));
  CHECK(Fails("SET k v extra"));
  CHECK(Fails("MSET a"));
  CHECK(Fails("COUNT now"));
  CHECK(Fails("FLY me"));
  CHECK(Fails(R"("GET" k)"));
}

TEST_CASE("a quoted keyword is a key, not a keyword") {
  CHECK(Fields(Parse(R"(SET "EX" 5)")) == R"(set key="EX" value=5)");
  CHECK(Fields(Parse(R"(GET "FROM")")) == R"(get key="FROM")");
  CHECK(Fails(R"(SET k v "EX" 5)"));  // two extra tokens, not a TTL
}

TEST_CASE("TXN collects sets, deletes and appends into one txn") {
  std::vector<Command> commands{Parse("SET a 1 IFVERSION 5"), Parse("DEL b"), Parse("ADD x TO s")};
  auto txn = BuildTxn(commands);
  REQUIRE(txn.ok());
  Command c;
  c.request = *txn;
  CHECK(Fields(c) ==
        R"(txn checks=[["a", 5]] ops=[{"op": "set", "key": "a", "value": 1}, )"
        R"({"op": "delete", "key": "b"}, {"op": "xadd", "stream": "s", "value": "x"}])");
  CHECK_FALSE(BuildTxn({Parse("GET a")}).ok());
  CHECK_FALSE(BuildTxn({}).ok());
  CHECK_FALSE(BuildTxn({Parse("ADD x TO s MAXLEN 3")}).ok());
}

TEST_CASE("command words cover the language") {
  const auto& words = CommandWords();
  for (const char* w : {"SET", "GET", "ADD", "TAIL", "STREAMS", "TXN", "END", "FROM"}) {
    CHECK(std::find(words.begin(), words.end(), w) != words.end());
  }
}

}  // namespace
}  // namespace litestash::cli
