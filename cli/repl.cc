// RunRepl() and RunLines(); see repl.h.
#include "cli/repl.h"

#include <editline/readline.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/executor.h"
#include "cli/output.h"

namespace litestash::cli {
namespace {

// One shell session: the state that spans lines (an open TXN).
class Shell {
 public:
  // `pipeline`: send pipelinable commands without waiting (RunLines); their answers are
  // printed in line order by Drain(), which every other command calls first.
  Shell(EngineClient& client, bool pipeline) : client_(client), pipeline_(pipeline) {}

  // Prints the answers of the pipelined lines still owed, oldest first; returns the worst
  // exit code among them.
  int Drain(size_t keep = 0) {
    int worst = kExitOk;
    while (queued_.size() > keep) {
      auto& [id, command] = queued_.front();
      int rc =
          PrintOutcome(command, client_.Receive(id), ValueStyle::kDisplay, std::cout, std::cerr);
      worst = std::max(worst, rc);
      queued_.pop_front();
    }
    drained_worst_ = std::max(drained_worst_, worst);
    return worst;
  }

  bool in_txn() const { return in_txn_; }
  // The worst exit code of the pipelined lines printed so far.
  int drained_worst() const { return drained_worst_; }
  bool quit() const { return quit_; }

  // Runs one line; returns the exit code of the command (kExitOk for blank lines).
  int Line(const std::string& line) {
    auto tokens = Tokenize(line);
    if (!tokens.ok()) {
      Drain();
      return Usage(tokens.status());
    }
    if (tokens->empty()) return kExitOk;
    auto command = ParseCommand(*tokens);
    if (pipeline_ && !in_txn_ && command.ok() && Pipelinable(*command)) {
      queued_.emplace_back(client_.Send(command->request), std::move(command).value());
      return queued_.size() >= kMaxQueued ? Drain(kMaxQueued / 2) : kExitOk;
    }
    if (int rc = Drain(); rc != kExitOk && rc != kExitErrorAnswer) return rc;
    if (!command.ok()) return Usage(command.status());
    switch (command->kind) {
      case CommandKind::kQuit:
        quit_ = true;
        return kExitOk;
      case CommandKind::kHelp:
        std::cout << HelpText();
        return kExitOk;
      case CommandKind::kTxnBegin:
        if (in_txn_) return Usage(Status::InvalidArgument("already in a TXN (END or DISCARD)"));
        in_txn_ = true;
        txn_.clear();
        std::cout << "OK (collecting SET/DEL/ADD until END; DISCARD drops them)\n";
        return kExitOk;
      case CommandKind::kTxnDiscard:
        if (!in_txn_) return Usage(Status::InvalidArgument("DISCARD without TXN"));
        in_txn_ = false;
        std::cout << "OK (discarded " << txn_.size() << ")\n";
        return kExitOk;
      case CommandKind::kTxnEnd: {
        if (!in_txn_) return Usage(Status::InvalidArgument("END without TXN"));
        in_txn_ = false;
        auto request = BuildTxn(txn_);
        if (!request.ok()) return Usage(request.status());
        Command c;
        c.word = "txn";
        c.request = std::move(request).value();
        return Execute(client_, c, ValueStyle::kDisplay, std::cout, std::cerr);
      }
      default:
        break;
    }
    if (in_txn_) {
      const std::string& op = command->request.op;
      if (command->kind != CommandKind::kRequest ||
          (op != "set" && op != "delete" && op != "xadd")) {
        return Usage(Status::InvalidArgument("inside a TXN only SET, DEL (one key) and ADD"));
      }
      txn_.push_back(std::move(command).value());
      std::cout << "QUEUED (" << txn_.size() << ")\n";
      return kExitOk;
    }
    int rc = Execute(client_, *command, ValueStyle::kDisplay, std::cout, std::cerr);
    std::cout.flush();
    return rc;
  }

 private:
  int Usage(const Status& st) {
    std::cout << "(error) " << st.message() << "\n";
    return kExitUsage;
  }

  static constexpr size_t kMaxQueued = 256;

  EngineClient& client_;
  bool pipeline_;
  int drained_worst_ = kExitOk;
  std::deque<std::pair<uint64_t, Command>> queued_;
  bool in_txn_ = false;
  bool quit_ = false;
  std::vector<Command> txn_;
};

std::string HistoryPath() {
  if (const char* p = std::getenv("LITESTASH_HISTORY"); p && *p) return p;
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::string(home) + "/.litestash_history";
  }
  return ".litestash_history";
}

// Completion of command words: keeps the case of what was typed (lower if it started lower).
char* CompleteWord(const char* text, int state) {
  static size_t next;
  if (state == 0) next = 0;
  std::string typed(text);
  bool lower = !typed.empty() && std::islower(static_cast<unsigned char>(typed[0]));
  std::string upper = typed;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto& words = CommandWords();
  while (next < words.size()) {
    const std::string& w = words[next++];
    if (w.compare(0, upper.size(), upper) == 0) {
      std::string out = w;
      if (lower) {
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return strdup(out.c_str());
    }
  }
  return nullptr;
}

char** Complete(const char* text, int start, int end) {
  return rl_completion_matches(text, CompleteWord);
}

}  // namespace

int RunRepl(EngineClient& client) {
  EngineClient::CatchSigint(/*once=*/false);  // Ctrl-C stops a TAIL or drops a line

  std::string history = HistoryPath();
  using_history();
  read_history(history.c_str());
  rl_attempted_completion_function = Complete;

  std::cout << "litestash-cli: engine " << client.hello().Str("version").value_or("?") << ", "
            << client.shards() << " shards. HELP lists the commands.\n";
  Shell shell(client, /*pipeline=*/false);
  int last = kExitOk;
  while (!shell.quit()) {
    EngineClient::ClearInterrupt();
    char* raw = readline(shell.in_txn() ? "txn> " : "litestash> ");
    if (raw == nullptr) {
      std::cout << "\n";
      if (EngineClient::Interrupted()) continue;  // Ctrl-C drops the line being typed
      break;
    }
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    add_history(line.c_str());
    write_history(history.c_str());
    last = shell.Line(line);
    if (last == kExitEngine) break;
  }
  history_truncate_file(history.c_str(), 1000);
  return last == kExitEngine ? kExitEngine : kExitOk;
}

int RunLines(EngineClient& client, std::istream& in) {
  Shell shell(client, /*pipeline=*/true);
  int worst = kExitOk;
  std::string line;
  while (!shell.quit() && std::getline(in, line)) {
    int rc = shell.Line(line);
    if (rc == kExitEngine) return rc;
    if (rc != kExitOk) worst = kExitErrorAnswer;
  }
  shell.Drain();
  int drained = shell.drained_worst();
  if (drained == kExitEngine) return drained;
  return drained != kExitOk ? kExitErrorAnswer : worst;
}

}  // namespace litestash::cli
