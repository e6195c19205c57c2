# The suite spawns real engines; run test modules two at a time at most (2-core CI box).
ExUnit.start(max_cases: 2, timeout: 60_000, capture_log: true)
