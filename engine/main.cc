// litestash-engine: parse the flags, run the engine, exit with its code.
#include <exception>
#include <iostream>

#include "engine/config.h"
#include "engine/engine.h"
#include "engine/exit_codes.h"

int main(int argc, char** argv) {
  const litestash::ParsedConfig parsed = litestash::ParseConfig(argc, argv);
  if (!parsed.config) return parsed.exit_code;
  try {
    return litestash::RunEngine(*parsed.config);
  } catch (const std::exception& e) {
    std::cerr << "litestash-engine: fatal: " << e.what() << "\n";
    return litestash::kExitInternal;
  }
}
