defmodule LiteStash do
  @moduledoc """
  Elixir host for `litestash-engine`: a GenServer that owns the engine process through an
  Erlang port (`{:packet, 4}` framing, MessagePack maps; see the shared protocol contract).

      {:ok, _pid} = LiteStash.start_link(data_dir: "./data")
      :ok = LiteStash.set("user:1001", %{name: "Alice", score: 99})
      {:ok, %{"name" => "Alice", "score" => 99}} = LiteStash.get("user:1001")
      :ok = LiteStash.set("vec:1", [0.1, 0.5, 0.9], ttl_ms: 60_000)
      {:error, :not_found} = LiteStash.get("missing")

  ## Calling convention

  Every function exists in two forms: without a server (the process registered under the
  default name `LiteStash`) and with a server (pid, registered name, `{:via, ...}`) as the first
  argument, e.g. `get(key)`, `get(key, opts)`, `get(server, key)`, `get(server, key, opts)`.
  Keys and stream names are always binaries and servers never are, which is how the two forms
  are told apart. Every call accepts `timeout:` (ms, default 5000) where it takes options.

  ## Streams (protocol 2)

  Append-only logs with consumer-group offsets (the Kafka model), routed like keys:

      {:ok, %{entry_id: 1, ts: _}} = LiteStash.xadd("orders", %{sku: "A-1"}, maxlen: 100_000)
      {:ok, [%LiteStash.Entry{id: 1, value: %{"sku" => "A-1"}}], false} = LiteStash.xrange("orders")
      # waits up to 10 s for entries after id 1; only this caller waits
      {:ok, entries, more?} = LiteStash.xread("orders", 1, wait_ms: 10_000)
      :ok = LiteStash.xcommit("orders", "billing", 1)

  `xadd`/`xadd_raw`, `xget`/`xget_raw`, `xrange`/`xrange_raw`, `xread`/`xread_raw`, `xinfo`,
  `xtrim`, `xdrop`, `xstreams` (+ `xstreams_all/2`, `stream_names/2`), `xcommit`, `xoffset`.
  Entries are `%LiteStash.Entry{id, ts, value}`; the `_raw` reads give each value's exact bytes.
  `LiteStash.Consumer.stream/4` is the consumer-group loop as an Elixir `Stream` (at least
  once); `LiteStash.Subscriber` sends each new entry to a process as a message.

  ## Versions, compare-and-set, transactions (protocol 2)

  Every write gives the key a new version (microseconds, strictly increasing per shard).
  `get_versioned/3` reads a value with its version and `set_versioned/4` answers the new one;
  `set/4`, `set_raw/4`, `set_versioned/4` and `delete/3` take `if_version:` (0: only when the
  key is absent), failing with a `conflict` that carries the key's current version;
  `update/4` is the retrying read-modify-write loop on top of them:

      {:ok, n, version} = LiteStash.get_versioned("counter")
      case LiteStash.set("counter", n + 1, if_version: version) do
        :ok -> :ok
        {:error, {:conflict, _msg, %{version: current}}} -> :retry   # someone else wrote it
      end
      {:ok, 1, _} = LiteStash.update("hits", &(&1 + 1), default: 0)

  With a history depth (`keep_versions:` option / `--keep-versions N|all`), `versions/3`
  (`versions_stream/3`, `versions_all/3`) lists a key's kept versions and tombstones, and
  `get/3` with `version:` reads one. `LiteStash.Txn` builds a transaction (checks, then
  `set`/`delete`/`xadd` ops, all or nothing across shards) that `commit/3` runs:

      Txn.new() |> Txn.check("a", va) |> Txn.set("a", 70) |> Txn.xadd("log", "moved")
      |> LiteStash.commit(conn)
      #=> {:ok, [new_version_of_a, entry_id]}

  `compact/2` (online housekeeping) and `backup/3` (an online, consistent copy of the data dir
  into a new directory) work on every shard; they, like `commit/3`, have longer default
  timeouts (10 minutes; 30 s for `commit/3`) that `timeout:` overrides.

  ## Results

  * `get/3` → `{:ok, value}` or `{:error, :not_found}` (so a stored `nil` is `{:ok, nil}`).
    Maps come back with the keys as sent on the wire (strings for this host's own writes, since
    atoms are encoded as str); MessagePack bin comes back as `%LiteStash.Msgpack.Bin{}`.
  * engine failures → `{:error, {code, message}}`, `code` an atom for the codes of the contract
    (`:invalid_key`, `:wrong_shard`, `:type_error`, ...) or the wire string for an unknown code.
  * `conflict` (a failed compare-and-set or transaction check) →
    `{:error, {:conflict, message, %{version: v, key: k}}}`: `version` the key's current
    version (0 when absent), `key` the key whose check failed (sent by the engine for
    transactions; for a single-key write, the request's key). See `LiteStash.Error`.
  * host failures → `{:error, :timeout}`, `{:error, {:engine_exited, status}}` (every pending
    caller gets it when the engine dies, then the server stops with
    `{:shutdown, {:engine_exited, status}}`; `status` is the engine's exit status, or `:epipe`
    when a request was written to an engine already dead: Erlang then closes the port on the
    broken pipe and never learns the status; `start_link/1` fails the same way when the engine
    exits before its `hello`), `{:error, :not_running}`,
    `{:error, {:unencodable, term}}`, `{:error, {:invalid_msgpack, reason}}` (for `set_raw`,
    `xadd_raw`).
  * the engine's `hello` must answer protocol 1 or 2 (else `start_link/1` fails with
    `{:incompatible_engine, hello}`); `info/1`, `features/1`, `supports?/2` and
    `keep_versions/1` expose what it said.

  ## Concurrency and routing

  Callers are served concurrently: each request gets an id, the caller is parked in a map of
  pending requests and answered (`GenServer.reply/2`) when the engine's response with that id
  arrives, in whatever order the engine answers. Requests are encoded and responses decoded in
  the calling process; the server only frames, routes and matches. The server computes each
  key's shard itself (BLAKE2b-512, `LiteStash.Routing`) and sends it as `shard`, so a host and
  engine that disagree on routing fail loudly with `:wrong_shard`.

  ## Options of `start_link/1`

  * `:data_dir` — engine `--data-dir` (default: the engine's own default, `./data`)
  * `:memory` — `true` for `--memory`
  * `:shards`, `:sync`, `:max_value_bytes`, `:max_key_bytes`, `:max_frame_bytes` — the
    matching engine flags
  * `:keep_versions` — engine `--keep-versions`: the data dir's history depth (an integer, or
    `:all`), recorded in the data dir (without it an existing data dir keeps its record)
  * `:log_level` — engine `--log-level` (default `"warn"`, so the engine's info lines stay off
    the application's console; `nil` leaves the engine's own default / `LITESTASH_LOG_LEVEL`)
  * `:engine_args` — extra command-line arguments
  * `:engine` — path of the binary (default: env `LITESTASH_ENGINE`, else `litestash-engine`
    on `PATH`; see `find_engine/1`)
  * `:name` — registered name (default `LiteStash`; `nil` for none)
  * `:timeout` — how long to wait for the engine's `hello` (default 5000 ms)
  """

  use GenServer
  require Logger

  alias LiteStash.{Entry, Error, Msgpack, Routing, Txn}
  alias LiteStash.Msgpack.Raw

  @default_timeout 5_000
  # Defaults for ops that may legitimately take long: `txn` (write locks of several shards,
  # possibly held by other engines) and `compact` / `backup` (work on every shard).
  @txn_timeout 30_000
  @long_timeout 600_000
  # Protocol versions this host speaks (hello's `protocol`); anything else is refused.
  @protocols [1, 2]
  # hello's keep_versions value meaning "keep every version".
  @keep_all 0xFFFFFFFF
  @default_log_level "warn"
  @engine_name "litestash-engine"

  @type server :: GenServer.server()
  @type key :: binary
  @type error ::
          {:error, {atom | binary, binary}}
          | {:error, {:conflict, binary, %{version: non_neg_integer | nil, key: binary | nil}}}
          | {:error, :timeout | :not_running | {:engine_exited, integer | :epipe} | term}

  # ------------------------------------------------------------------ lifecycle

  @doc """
  Finds the engine binary: the explicit `path` (the `:engine` option) when given, else env
  `LITESTASH_ENGINE`, else `litestash-engine` on `PATH`. A name without a `/` is looked up on
  `PATH`. Returns `{:ok, absolute_path}` or `{:error, {:engine_not_found, message}}`, the
  message saying where it looked.
  """
  @spec find_engine(Path.t() | nil) :: {:ok, Path.t()} | {:error, {:engine_not_found, binary}}
  def find_engine(path \\ nil)

  def find_engine(nil) do
    case System.get_env("LITESTASH_ENGINE") do
      env when env in [nil, ""] ->
        case System.find_executable(@engine_name) do
          nil ->
            {:error,
             {:engine_not_found,
              "litestash-engine not found: no :engine option, LITESTASH_ENGINE is not set, " <>
                "and no #{@engine_name} on PATH (#{System.get_env("PATH", "")})"}}

          found ->
            {:ok, found}
        end

      env ->
        resolve_engine(env, "LITESTASH_ENGINE=#{inspect(env)}")
    end
  end

  def find_engine(path), do: resolve_engine(to_string(path), ":engine #{inspect(path)}")

  defp resolve_engine(path, what) do
    found =
      cond do
        not String.contains?(path, "/") -> System.find_executable(path)
        executable_file?(path) -> Path.expand(path)
        true -> nil
      end

    case found do
      nil ->
        where = if String.contains?(path, "/"), do: "an executable file", else: "a command on PATH"
        {:error, {:engine_not_found, "litestash-engine not found: #{what} is not #{where}"}}

      found ->
        {:ok, found}
    end
  end

  defp executable_file?(path) do
    case File.stat(path) do
      {:ok, %File.Stat{type: :regular, mode: mode}} -> Bitwise.band(mode, 0o111) != 0
      _ -> false
    end
  end

  @doc "Starts the engine and the server owning it, linked to the caller."
  @spec start_link(keyword) :: GenServer.on_start()
  def start_link(opts \\ []) do
    {gen_opts, opts} = name_opts(opts)
    GenServer.start_link(__MODULE__, opts, gen_opts)
  end

  @doc "Like `start_link/1` but without a link (the caller survives an engine crash)."
  @spec start(keyword) :: GenServer.on_start()
  def start(opts \\ []) do
    {gen_opts, opts} = name_opts(opts)
    GenServer.start(__MODULE__, opts, gen_opts)
  end

  defp name_opts(opts) do
    case Keyword.pop(opts, :name, __MODULE__) do
      {nil, opts} -> {[], opts}
      {name, opts} -> {[name: name], opts}
    end
  end

  @doc "Child spec for supervisors."
  def child_spec(opts) do
    %{id: Keyword.get(opts, :name, __MODULE__), start: {__MODULE__, :start_link, [opts]}}
  end

  @doc """
  Stops the server: closes the engine's stdin (a clean shutdown: the engine finishes, commits,
  checkpoints and exits 0) and waits up to `timeout` for the engine process to be gone.
  """
  def stop(server \\ __MODULE__, timeout \\ 10_000), do: GenServer.stop(server, :normal, timeout)

  @doc """
  What the engine said in its `hello`, and its OS pid: a map with `hello` (the whole answer,
  string keys), `os_pid`, `shards`, `protocol` (1 or 2), `keep_versions` (the data dir's
  history depth: an integer, `:all` for the wire's `0xffffffff`, 0 from a protocol-1 engine)
  and `features` (the list of capability strings, e.g. `"streams"`, `"blocking_reads"`).
  """
  def info(server \\ __MODULE__), do: GenServer.call(server, :info)

  @doc "The engine's `features` (from `hello`): a list of strings such as `\"streams\"`."
  def features(server \\ __MODULE__), do: info(server).features

  @doc "Whether the engine lists `feature` (a string, e.g. `\"blocking_reads\"`) in `hello`."
  def supports?(server \\ __MODULE__, feature), do: to_string(feature) in features(server)

  @doc """
  The data dir's history depth from `hello`: 0 (no history), N, or `:all` (`0xffffffff` on the
  wire). 0 when the engine speaks protocol 1.
  """
  def keep_versions(server \\ __MODULE__), do: info(server).keep_versions

  # ------------------------------------------------------------------ operations

  @doc """
  Stores `value` (any encodable term, see `LiteStash.Msgpack`): `:ok`. Options:

  * `ttl_ms:` (≥ 1) — the key expires after that many ms; without it any earlier expiry of
    the key is removed;
  * `if_version:` — compare-and-set: the write applies only when the key is at exactly this
    version (`0`: only when it is absent or expired). Otherwise nothing is written and the
    answer is `{:error, {:conflict, message, %{version: current, key: key}}}`, `current` the
    key's version now (0 when absent). Versions come from `get_versioned/3`,
    `set_versioned/4` or `versions/3`;
  * `timeout:`.

  `set_versioned/4` answers the new version instead of `:ok` (what a compare-and-set loop
  needs next); `update/4` is the whole read-modify-write loop.
  """
  @spec set(server, key, term, keyword) :: :ok | error
  def set(a, b) when is_binary(a), do: set(__MODULE__, a, b, [])
  def set(a, b, c) when is_binary(a), do: set(__MODULE__, a, b, c)
  def set(server, key, value), do: set(server, key, value, [])

  def set(server, key, value, opts) do
    with {:ok, _version} <- set_versioned(server, key, value, opts), do: :ok
  end

  @doc """
  Like `set/4` (same options, `if_version:` included) but answers the key's new version:
  `{:ok, version}`, a uint64 of microseconds, strictly increasing within the key's shard.
  """
  @spec set_versioned(server, key, term, keyword) :: {:ok, non_neg_integer} | error
  def set_versioned(a, b) when is_binary(a), do: set_versioned(__MODULE__, a, b, [])
  def set_versioned(a, b, c) when is_binary(a), do: set_versioned(__MODULE__, a, b, c)
  def set_versioned(server, key, value), do: set_versioned(server, key, value, [])

  def set_versioned(server, key, value, opts) do
    with {:ok, raw} <- encode_value(value), do: do_set(server, key, raw, opts)
  end

  @doc """
  Stores `bytes`, which must hold exactly one MessagePack object, unchanged: `:ok`. Options as
  `set/4` (`ttl_ms:`, `if_version:`, `timeout:`).
  """
  @spec set_raw(server, key, binary, keyword) :: :ok | error
  def set_raw(a, b) when is_binary(a), do: set_raw(__MODULE__, a, b, [])
  def set_raw(a, b, c) when is_binary(a), do: set_raw(__MODULE__, a, b, c)
  def set_raw(server, key, bytes), do: set_raw(server, key, bytes, [])

  def set_raw(server, key, bytes, opts) when is_binary(bytes) do
    with {:ok, _version} <- do_set(server, key, bytes, opts), do: :ok
  end

  defp do_set(server, key, bytes, opts) do
    fields =
      [{"key", {:str, key}}, {"value", %Raw{bytes: bytes}}] ++
        ttl_field(opts) ++ opt_fields(opts, if_version: "if_version")

    with :ok <- check_one_object(bytes),
         {:ok, resp} <- call(server, "set", key, fields, opts),
         do: field(resp, "version")
  end

  @doc """
  Fetches and decodes a value: `{:ok, value}` or `{:error, :not_found}`. Options:

  * `version:` — that exact version of the key: its current one, or a superseded one the data
    dir's history still keeps (see `versions/3`); `{:error, :not_found}` when that version is
    not retained, is a tombstone (a delete), or the key has expired;
  * `timeout:`.
  """
  @spec get(server, key, keyword) :: {:ok, term} | {:error, :not_found} | error
  def get(a) when is_binary(a), do: get(__MODULE__, a, [])
  def get(a, b) when is_binary(a), do: get(__MODULE__, a, b)
  def get(server, key), do: get(server, key, [])

  def get(server, key, opts) do
    with {:ok, raw} <- get_raw(server, key, opts), do: decode_value(raw)
  end

  @doc """
  Fetches a value's MessagePack bytes exactly as stored: `{:ok, bytes}`. Options as `get/3`
  (`version:`, `timeout:`).
  """
  @spec get_raw(server, key, keyword) :: {:ok, binary} | {:error, :not_found} | error
  def get_raw(a) when is_binary(a), do: get_raw(__MODULE__, a, [])
  def get_raw(a, b) when is_binary(a), do: get_raw(__MODULE__, a, b)
  def get_raw(server, key), do: get_raw(server, key, [])

  def get_raw(server, key, opts) do
    with {:ok, raw, _version} <- do_get(server, key, opts), do: {:ok, raw}
  end

  @doc """
  Fetches a value and its version: `{:ok, value, version}` or `{:error, :not_found}` (then the
  key's version is 0 for `if_version:` and `LiteStash.Txn.check/3`). Options as `get/3`
  (`version:`, `timeout:`). The version is what a compare-and-set passes as `if_version:`.
  """
  @spec get_versioned(server, key, keyword) ::
          {:ok, term, non_neg_integer} | {:error, :not_found} | error
  def get_versioned(a) when is_binary(a), do: get_versioned(__MODULE__, a, [])
  def get_versioned(a, b) when is_binary(a), do: get_versioned(__MODULE__, a, b)
  def get_versioned(server, key), do: get_versioned(server, key, [])

  def get_versioned(server, key, opts) do
    with {:ok, raw, version} <- do_get(server, key, opts),
         {:ok, value} <- decode_value(raw),
         do: {:ok, value, version}
  end

  defp do_get(server, key, opts) do
    fields = [{"key", {:str, key}} | opt_fields(opts, version: "version")]

    with {:ok, resp} <- call(server, "get", key, fields, opts),
         {:ok, true} <- field(resp, "found"),
         {:ok, raw} <- Map.fetch(resp, "value") |> or_missing("value"),
         {:ok, version} <- field(resp, "version") do
      {:ok, raw, version}
    else
      {:ok, false} -> {:error, :not_found}
      other -> other
    end
  end

  @doc """
  Deletes a key: `{:ok, deleted?}` (false when it was absent or expired). Options:
  `if_version:` as for `set/4` (`if_version: 0` on a live key is a conflict; on an absent key
  it deletes nothing and answers `{:ok, false}`), `timeout:`. With history kept (see
  `versions/3`), deleting a live key records a tombstone.
  """
  @spec delete(server, key, keyword) :: {:ok, boolean} | error
  def delete(a) when is_binary(a), do: delete(__MODULE__, a, [])
  def delete(a, b) when is_binary(a), do: delete(__MODULE__, a, b)
  def delete(server, key), do: delete(server, key, [])

  def delete(server, key, opts),
    do: key_op(server, "delete", key, opt_fields(opts, if_version: "if_version"), "deleted", opts)

  @doc """
  Read-modify-write with compare-and-set, retried on conflict: reads the key and its version,
  computes `fun.(value)` in the calling process, writes it with `if_version:` and, when another
  writer (this connection or any engine on the data dir) got in between, starts again from the
  fresh value. Answers `{:ok, new_value, new_version}`.

  Options: `default:` (the value `fun` gets when the key is absent or expired, default `nil`;
  the write then requires the key to still be absent), `ttl_ms:` (applied to the write),
  `max_attempts:` (default 100; when every attempt met a conflict the last
  `{:error, {:conflict, _, _}}` is returned), `timeout:` (per request). `fun` must be free of
  side effects: it may run several times.

      {:ok, 1, _version} = LiteStash.update(conn, "hits", &(&1 + 1), default: 0)
  """
  @spec update(server, key, (term -> term), keyword) :: {:ok, term, non_neg_integer} | error
  def update(a, b) when is_binary(a), do: update(__MODULE__, a, b, [])
  def update(a, b, c) when is_binary(a), do: update(__MODULE__, a, b, c)
  def update(server, key, fun), do: update(server, key, fun, [])

  def update(server, key, fun, opts) when is_function(fun, 1) do
    attempts = Keyword.get(opts, :max_attempts, 100)

    unless is_integer(attempts) and attempts >= 1 do
      raise ArgumentError, "max_attempts must be an integer >= 1, got #{inspect(attempts)}"
    end

    do_update(server, key, fun, Keyword.take(opts, [:default, :ttl_ms, :timeout]), attempts)
  end

  defp do_update(server, key, fun, opts, attempts_left) do
    read_opts = Keyword.take(opts, [:timeout])

    current =
      case get_versioned(server, key, read_opts) do
        {:ok, value, version} -> {:ok, value, version}
        {:error, :not_found} -> {:ok, Keyword.get(opts, :default), 0}
        err -> err
      end

    with {:ok, value, version} <- current do
      new_value = fun.(value)
      write_opts = [if_version: version] ++ Keyword.take(opts, [:ttl_ms, :timeout])

      case set_versioned(server, key, new_value, write_opts) do
        {:ok, new_version} ->
          {:ok, new_value, new_version}

        {:error, {:conflict, _, _}} when attempts_left > 1 ->
          do_update(server, key, fun, opts, attempts_left - 1)

        err ->
          err
      end
    end
  end

  @doc "Whether a live key exists: `{:ok, boolean}`."
  def exists(a) when is_binary(a), do: exists(__MODULE__, a, [])
  def exists(a, b) when is_binary(a), do: exists(__MODULE__, a, b)
  def exists(server, key), do: exists(server, key, [])
  def exists(server, key, opts), do: key_op(server, "exists", key, [], "exists", opts)

  @doc "Sets a key's time to live: `{:ok, updated?}` (false when the key is absent)."
  def expire(a, b) when is_binary(a), do: expire(__MODULE__, a, b, [])
  def expire(a, b, c) when is_binary(a), do: expire(__MODULE__, a, b, c)
  def expire(server, key, ttl_ms), do: expire(server, key, ttl_ms, [])

  def expire(server, key, ttl_ms, opts),
    do: key_op(server, "expire", key, [{"ttl_ms", ttl_ms}], "updated", opts)

  @doc "Removes a key's expiry: `{:ok, updated?}` (true only if it had one)."
  def persist(a) when is_binary(a), do: persist(__MODULE__, a, [])
  def persist(a, b) when is_binary(a), do: persist(__MODULE__, a, b)
  def persist(server, key), do: persist(server, key, [])
  def persist(server, key, opts), do: key_op(server, "persist", key, [], "updated", opts)

  @doc """
  Remaining time to live: `{:ok, ms}`, `{:ok, :infinity}` for a key that never expires, or
  `{:error, :not_found}`.
  """
  def ttl(a) when is_binary(a), do: ttl(__MODULE__, a, [])
  def ttl(a, b) when is_binary(a), do: ttl(__MODULE__, a, b)
  def ttl(server, key), do: ttl(server, key, [])

  def ttl(server, key, opts) do
    with {:ok, resp} <- call(server, "ttl", key, [{"key", {:str, key}}], opts),
         {:ok, found} <- field(resp, "found"),
         {:ok, ms} <- field(resp, "ttl_ms") do
      cond do
        not found -> {:error, :not_found}
        ms == nil -> {:ok, :infinity}
        true -> {:ok, ms}
      end
    end
  end

  @doc """
  Fetches several keys: `{:ok, values}` in request order, `default` (option, `nil`) where a key
  is absent. `mget_raw/3` gives the raw bytes instead (`nil` where absent).
  """
  def mget(a) when is_list(a), do: mget(__MODULE__, a, [])
  def mget(a, b) when is_list(a), do: mget(__MODULE__, a, b)
  def mget(server, keys), do: mget(server, keys, [])

  def mget(server, keys, opts) do
    default = Keyword.get(opts, :default)

    with {:ok, raws} <- mget_raw(server, keys, opts) do
      map_ok(raws, fn
        nil -> {:ok, default}
        raw -> decode_value(raw)
      end)
    end
  end

  def mget_raw(a) when is_list(a), do: mget_raw(__MODULE__, a, [])
  def mget_raw(a, b) when is_list(a), do: mget_raw(__MODULE__, a, b)
  def mget_raw(server, keys), do: mget_raw(server, keys, [])

  def mget_raw(server, keys, opts) when is_list(keys) do
    with {:ok, resp} <- call(server, "mget", nil, [{"keys", str_list(keys)}], opts),
         {:ok, found} <- field(resp, "found"),
         {:ok, raw_values} <- Map.fetch(resp, "values") |> or_missing("values"),
         {:ok, values} <- split(raw_values) do
      if length(found) == length(keys) and length(values) == length(keys) do
        {:ok, Enum.zip_with(found, values, fn f, v -> if f, do: v, else: nil end)}
      else
        {:error, {:protocol_error, :mget_length_mismatch}}
      end
    end
  end

  @doc """
  Stores several entries (a map or a list of `{key, value}`), atomically per shard. Option
  `ttl_ms:`. `mset_raw/3` takes raw MessagePack bytes as values.
  """
  def mset(a) when is_list(a) or is_map(a), do: mset(__MODULE__, a, [])
  def mset(a, b) when is_list(a) or is_map(a), do: mset(__MODULE__, a, b)
  def mset(server, entries), do: mset(server, entries, [])

  def mset(server, entries, opts) do
    with {:ok, pairs} <-
           map_ok(entries, fn {k, v} ->
             with {:ok, raw} <- encode_value(v), do: {:ok, {k, raw}}
           end),
         do: mset_raw(server, pairs, opts)
  end

  def mset_raw(a) when is_list(a) or is_map(a), do: mset_raw(__MODULE__, a, [])
  def mset_raw(a, b) when is_list(a) or is_map(a), do: mset_raw(__MODULE__, a, b)
  def mset_raw(server, entries), do: mset_raw(server, entries, [])

  def mset_raw(server, entries, opts) do
    entries = Enum.to_list(entries)

    with :ok <- Enum.find_value(entries, :ok, fn {_k, raw} -> check_error(raw) end),
         pairs = Enum.map(entries, fn {k, raw} -> [str(k), %Raw{bytes: raw}] end),
         {:ok, _} <- call(server, "mset", nil, [{"entries", pairs}] ++ ttl_field(opts), opts) do
      :ok
    end
  end

  @doc "Deletes several keys: `{:ok, deleted_count}`."
  def mdelete(a) when is_list(a), do: mdelete(__MODULE__, a, [])
  def mdelete(a, b) when is_list(a), do: mdelete(__MODULE__, a, b)
  def mdelete(server, keys), do: mdelete(server, keys, [])

  def mdelete(server, keys, opts) do
    with {:ok, resp} <- call(server, "mdelete", nil, [{"keys", str_list(keys)}], opts),
         do: field(resp, "deleted")
  end

  @doc """
  One page of live keys in ascending byte order: `{:ok, keys, more?}`. Options: `prefix:`,
  `after:` (exclusive start key), `limit:` (engine default 1000, max 10000).
  """
  def scan(a \\ [])
  def scan(a) when is_list(a), do: scan(__MODULE__, a)

  def scan(server), do: scan(server, [])

  def scan(server, opts) do
    fields =
      for {opt, name} <- [prefix: "prefix", after: "after", limit: "limit"],
          Keyword.has_key?(opts, opt),
          do: {name, str(Keyword.fetch!(opts, opt))}

    with {:ok, resp} <- call(server, "scan", nil, fields, opts),
         {:ok, keys} <- field(resp, "keys"),
         {:ok, more} <- field(resp, "more") do
      {:ok, keys, more}
    end
  end

  @doc "Every live key matching `prefix:` (pages through `scan/2`): `{:ok, keys}`."
  def scan_all(a \\ [])
  def scan_all(a) when is_list(a), do: scan_all(__MODULE__, a)
  def scan_all(server), do: scan_all(server, [])

  def scan_all(server, opts), do: scan_pages(server, Keyword.delete(opts, :after), [])

  defp scan_pages(server, opts, acc) do
    case scan(server, opts) do
      {:ok, keys, true} when keys != [] ->
        scan_pages(server, Keyword.put(opts, :after, List.last(keys)), [keys | acc])

      {:ok, keys, _} ->
        {:ok, Enum.concat(Enum.reverse([keys | acc]))}

      err ->
        err
    end
  end

  @doc "Number of live keys: `{:ok, n}`."
  def count(server \\ __MODULE__, opts \\ []) do
    with {:ok, resp} <- call(server, "count", nil, [], opts), do: field(resp, "count")
  end

  @doc "Removes every key (atomic per shard): `:ok`."
  def clear(server \\ __MODULE__, opts \\ []), do: simple(server, "clear", opts)

  @doc "Flushes everything acknowledged so far to disk with fsync: `:ok`."
  def sync(server \\ __MODULE__, opts \\ []), do: simple(server, "sync", opts)

  @doc "Round trip to the engine: `:ok`."
  def ping(server \\ __MODULE__, opts \\ []), do: simple(server, "ping", opts)

  @doc "Engine statistics, fully decoded: `{:ok, %{\"shards\" => [...], ...}}`."
  def stats(server \\ __MODULE__, opts \\ []) do
    with {:ok, resp} <- call(server, "stats", nil, [], opts), do: decode_all(resp)
  end

  # ------------------------------------------------------------------ history, transactions, housekeeping

  @doc """
  One page of a key's versions, newest first: `{:ok, [{version, deleted?}], more?}`. The first
  item is the current version when the key is live; then come the superseded versions the data
  dir keeps (its history depth: `keep_versions/1`, engine flag `--keep-versions N|all`, option
  `keep_versions:` of `start_link/1`), `deleted?` being `true` for a tombstone (a delete).
  Read a kept version with `get/3` and `version:`.

  Options: `limit:` (1..10000, engine default 100), `before:` (exclusive: pass the last version
  of a page to get the next), `timeout:`. `more?` is true when older versions exist beyond the
  page. An absent key without history, or an expired key, answers `{:ok, [], false}`.
  `versions_stream/3` walks every page lazily, `versions_all/3` collects them.
  """
  @spec versions(server, key, keyword) ::
          {:ok, [{non_neg_integer, boolean}], boolean} | error
  def versions(a) when is_binary(a), do: versions(__MODULE__, a, [])
  def versions(a, b) when is_binary(a), do: versions(__MODULE__, a, b)
  def versions(server, key), do: versions(server, key, [])

  def versions(server, key, opts) do
    fields = [{"key", {:str, key}} | opt_fields(opts, limit: "limit", before: "before")]

    with {:ok, resp} <- call(server, "versions", key, fields, opts),
         {:ok, versions} <- field(resp, "versions"),
         {:ok, deleted} <- field(resp, "deleted"),
         {:ok, more} <- field(resp, "more"),
         :ok <- same_length([versions, deleted], :versions_length_mismatch) do
      {:ok, Enum.zip(versions, deleted), more}
    end
  end

  @doc """
  A lazy `Stream` of every version of `key` (newest first, as `{version, deleted?}`, starting
  below `before:` when given), fetched one `versions/3` page of `limit:` items at a time as it
  is consumed. An engine error while paging raises `LiteStash.Error`.

      LiteStash.versions_stream(conn, "doc:1") |> Enum.reject(&elem(&1, 1)) |> Enum.take(5)
  """
  @spec versions_stream(server, key, keyword) :: Enumerable.t()
  def versions_stream(a) when is_binary(a), do: versions_stream(__MODULE__, a, [])
  def versions_stream(a, b) when is_binary(a), do: versions_stream(__MODULE__, a, b)
  def versions_stream(server, key), do: versions_stream(server, key, [])

  def versions_stream(server, key, opts) do
    Stream.resource(
      fn -> {:before, Keyword.get(opts, :before)} end,
      fn
        :done ->
          {:halt, :done}

        {:before, before} ->
          page_opts = if before, do: Keyword.put(opts, :before, before), else: opts

          case versions(server, key, page_opts) do
            {:ok, [], _} -> {:halt, :done}
            {:ok, items, true} -> {items, {:before, items |> List.last() |> elem(0)}}
            {:ok, items, false} -> {items, :done}
            {:error, reason} -> raise Error, reason: reason
          end
      end,
      fn _ -> :ok end
    )
  end

  @doc "Every version of `key` (pages through `versions/3`): `{:ok, [{version, deleted?}]}`."
  @spec versions_all(server, key, keyword) :: {:ok, [{non_neg_integer, boolean}]} | error
  def versions_all(a) when is_binary(a), do: versions_all(__MODULE__, a, [])
  def versions_all(a, b) when is_binary(a), do: versions_all(__MODULE__, a, b)
  def versions_all(server, key), do: versions_all(server, key, [])

  def versions_all(server, key, opts) do
    {:ok, server |> versions_stream(key, opts) |> Enum.to_list()}
  rescue
    e in Error -> {:error, e.reason}
  end

  @doc """
  Runs a transaction built with `LiteStash.Txn`: every check holds and every op applies, or
  nothing does, across shards. Answers `{:ok, results}`, one per op in the order they were
  added (a set's new version, a delete's `deleted?`, an xadd's entry id), or
  `{:error, {:conflict, message, %{key: key, version: current}}}` for the first failed check
  (nothing written), or another engine error (`:bad_request`, `:invalid_key`, ...; nothing
  written).

  Both argument orders work: `commit(server, txn, opts)` like every other call, and
  `txn |> LiteStash.commit(server, opts)` at the end of a builder pipeline (`server` defaults
  to `LiteStash`). Options: `timeout:` (default 30000 ms: a transaction waits for the write
  locks of all its shards, which another engine on the data dir may hold). After a timeout
  the transaction's outcome is unknown: it may still commit (wholly).
  """
  @spec commit(server | Txn.t(), Txn.t() | server | keyword, keyword) ::
          {:ok, [Txn.result()]} | error
  def commit(%Txn{} = txn), do: commit(__MODULE__, txn, [])
  def commit(%Txn{} = txn, opts) when is_list(opts), do: commit(__MODULE__, txn, opts)
  def commit(%Txn{} = txn, server), do: commit(server, txn, [])
  def commit(server, %Txn{} = txn), do: commit(server, txn, [])
  def commit(%Txn{} = txn, server, opts) when is_list(opts), do: commit(server, txn, opts)

  def commit(server, %Txn{} = txn, opts) when is_list(opts) do
    opts = Keyword.put_new(opts, :timeout, @txn_timeout)

    with {:ok, fields} <- Txn.fields(txn),
         {:ok, resp} <- call(server, "txn", nil, fields, opts),
         {:ok, results} <- field(resp, "results") do
      {:ok, results}
    end
  end

  @doc """
  Online housekeeping of every shard, one shard at a time in bounded steps (other requests
  keep being answered; none waits behind it for longer than one step): removes expired keys,
  history beyond the depth, stream entries beyond their age retention, and gives freed pages
  back to the file system. Answers `{:ok, %{expired_removed:, versions_removed:,
  entries_removed:, bytes_reclaimed:, steps:, max_step_us:}}` once all shards are done.

  Options: `keep_versions:` (an integer, or `:all`) trims history to that depth for this run
  only instead of the recorded one (`0` drops all history); `timeout:` (default 600000 ms,
  10 minutes: compacting a large data dir takes a while; `:infinity` is accepted).
  """
  @spec compact(server, keyword) :: {:ok, %{atom => non_neg_integer}} | error
  def compact(a \\ [])
  def compact(a) when is_list(a), do: compact(__MODULE__, a)
  def compact(server), do: compact(server, [])

  def compact(server, opts) do
    opts = Keyword.put_new(opts, :timeout, @long_timeout)

    fields =
      case Keyword.fetch(opts, :keep_versions) do
        {:ok, :all} -> [{"keep_versions", @keep_all}]
        {:ok, n} -> [{"keep_versions", n}]
        :error -> []
      end

    names = ~w(expired_removed versions_removed entries_removed bytes_reclaimed steps max_step_us)

    with {:ok, resp} <- call(server, "compact", nil, fields, opts),
         {:ok, m} <- decode_all(resp) do
      {:ok, Map.new(names, fn f -> {String.to_atom(f), Map.get(m, f)} end)}
    end
  end

  @doc """
  An online, consistent copy of the data dir into `dir` (a path, as the engine process sees
  it), which must not exist or be an empty directory: `{:ok, %{shards: n, bytes: size}}`. The
  copy is a data dir an engine opens as it is (`start_link(data_dir: dir)`), holding every
  write acknowledged before the call and no part of a transaction that is not wholly in it.
  Other requests keep being answered meanwhile.

  A `dir` that exists and is not empty is `{:error, {:bad_request, message}}` and is left
  untouched; a failure while copying is `{:error, {:storage_error, message}}` and leaves no
  partial copy. Missing parent directories are created. With `memory: true` the in-memory
  shards are copied to a data dir on disk. Options: `timeout:` (default 600000 ms;
  `:infinity` is accepted).
  """
  @spec backup(server, Path.t(), keyword) ::
          {:ok, %{shards: pos_integer, bytes: non_neg_integer}} | error
  def backup(a) when is_binary(a), do: backup(__MODULE__, a, [])
  def backup(a, b) when is_binary(a), do: backup(__MODULE__, a, b)
  def backup(server, dir), do: backup(server, dir, [])

  def backup(server, dir, opts) when is_binary(dir) do
    opts = Keyword.put_new(opts, :timeout, @long_timeout)

    with {:ok, resp} <- call(server, "backup", nil, [{"dir", {:str, dir}}], opts),
         {:ok, shards} <- field(resp, "shards"),
         {:ok, bytes} <- field(resp, "bytes") do
      {:ok, %{shards: shards, bytes: bytes}}
    end
  end

  # ------------------------------------------------------------------ streams

  @doc """
  Appends `value` (any encodable term) to `stream`: `{:ok, %{entry_id: id, ts: ts}}`, answered
  after the commit. Options: `maxlen:` (uint ≥ 1) and `max_age_ms:` (uint ≥ 1) store the
  stream's retention, which the engine then keeps at every append (each option separately: the
  last value given wins); `timeout:`.
  """
  def xadd(a, b) when is_binary(a), do: xadd(__MODULE__, a, b, [])
  def xadd(a, b, c) when is_binary(a), do: xadd(__MODULE__, a, b, c)
  def xadd(server, stream, value), do: xadd(server, stream, value, [])

  def xadd(server, stream, value, opts) do
    with {:ok, raw} <- encode_value(value), do: xadd_raw(server, stream, raw, opts)
  end

  @doc "Like `xadd/4`, `bytes` holding exactly one MessagePack object, stored unchanged."
  def xadd_raw(a, b) when is_binary(a), do: xadd_raw(__MODULE__, a, b, [])
  def xadd_raw(a, b, c) when is_binary(a), do: xadd_raw(__MODULE__, a, b, c)
  def xadd_raw(server, stream, bytes), do: xadd_raw(server, stream, bytes, [])

  def xadd_raw(server, stream, bytes, opts) when is_binary(bytes) do
    fields =
      [{"stream", str(stream)}, {"value", %Raw{bytes: bytes}}] ++
        opt_fields(opts, maxlen: "maxlen", max_age_ms: "max_age_ms")

    with :ok <- check_one_object(bytes),
         {:ok, resp} <- call(server, "xadd", stream, fields, opts),
         {:ok, id} <- field(resp, "entry_id"),
         {:ok, ts} <- field(resp, "ts") do
      {:ok, %{entry_id: id, ts: ts}}
    end
  end

  @doc """
  Reads entries by id: `{:ok, [entry | nil]}`, one item per requested id in request order, a
  `%LiteStash.Entry{}` or `nil` where the id is absent (trimmed, not yet written, or no such
  stream). At most 10000 ids. `xget_raw/4` gives the values' exact bytes.
  """
  def xget(a, b) when is_binary(a), do: xget(__MODULE__, a, b, [])
  def xget(a, b, c) when is_binary(a), do: xget(__MODULE__, a, b, c)
  def xget(server, stream, ids), do: xget(server, stream, ids, [])
  def xget(server, stream, ids, opts), do: do_xget(server, stream, ids, opts, false)

  @doc "Like `xget/4`, each entry's `value` being its exact MessagePack bytes."
  def xget_raw(a, b) when is_binary(a), do: xget_raw(__MODULE__, a, b, [])
  def xget_raw(a, b, c) when is_binary(a), do: xget_raw(__MODULE__, a, b, c)
  def xget_raw(server, stream, ids), do: xget_raw(server, stream, ids, [])
  def xget_raw(server, stream, ids, opts), do: do_xget(server, stream, ids, opts, true)

  defp do_xget(server, stream, ids, opts, raw?) do
    with {:ok, resp} <-
           call(server, "xget", stream, [{"stream", str(stream)}, {"ids", ids}], opts),
         {:ok, found} <- field(resp, "found"),
         {:ok, ts} <- field(resp, "ts"),
         {:ok, raw_values} <- Map.fetch(resp, "values") |> or_missing("values"),
         {:ok, values} <- split(raw_values),
         :ok <- same_length([ids, found, ts, values], :xget_length_mismatch) do
      [ids, found, ts, values]
      |> Enum.zip()
      |> map_ok(fn
        {_id, false, _ts, _v} ->
          {:ok, nil}

        {id, true, t, v} ->
          with {:ok, value} <- entry_value(v, raw?), do: {:ok, %Entry{id: id, ts: t, value: value}}
      end)
    end
  end

  @doc """
  One page of a stream in ascending id order: `{:ok, [%LiteStash.Entry{}], more?}`. Options:
  * `after:` (exclusive) and optionally `before:` (exclusive): the first `limit` entries with
    `after < id < before`; `more?` says whether further entries lie in that range;
  * only `before:`: the `limit` entries just below `before` (still ascending); `more?` says
    whether older ones exist;
  * neither: the first `limit` entries;
  * `limit:` (1..10000, engine default 100), `timeout:`.

  Page forward with the last id of a page as `after:`, backward with the first as `before:`.
  A stream that does not exist reads as empty. `xrange_raw/3` gives the values' exact bytes.
  """
  def xrange(a) when is_binary(a), do: xrange(__MODULE__, a, [])
  def xrange(a, b) when is_binary(a), do: xrange(__MODULE__, a, b)
  def xrange(server, stream), do: xrange(server, stream, [])
  def xrange(server, stream, opts), do: do_xrange(server, stream, opts, false)

  @doc "Like `xrange/3`, each entry's `value` being its exact MessagePack bytes."
  def xrange_raw(a) when is_binary(a), do: xrange_raw(__MODULE__, a, [])
  def xrange_raw(a, b) when is_binary(a), do: xrange_raw(__MODULE__, a, b)
  def xrange_raw(server, stream), do: xrange_raw(server, stream, [])
  def xrange_raw(server, stream, opts), do: do_xrange(server, stream, opts, true)

  defp do_xrange(server, stream, opts, raw?) do
    fields = opt_fields(opts, after: "after", before: "before", limit: "limit")
    entries_call(server, "xrange", stream, fields, opts, raw?)
  end

  @doc """
  Reads the entries after `after_id` (exclusive; 0 = from the start), like `xrange/3` with
  `after:`: `{:ok, entries, more?}`. Options: `limit:` (1..10000, engine default 100),
  `wait_ms:` (0..60000, default 0) and `timeout:`.

  With `wait_ms` > 0 and nothing after `after_id` yet, the engine holds the answer until an
  entry is appended (by any caller, or another engine process on the data dir) or `wait_ms`
  passes (then `{:ok, [], false}`). Only the calling process waits: the server keeps serving
  every other caller meanwhile. The call waits at most `wait_ms + timeout` (default timeout
  5000 ms), so a blocking read never times out before the engine answers it.
  `xread_raw/4` gives the values' exact bytes.
  """
  def xread(a, b) when is_binary(a), do: xread(__MODULE__, a, b, [])
  def xread(a, b, c) when is_binary(a), do: xread(__MODULE__, a, b, c)
  def xread(server, stream, after_id), do: xread(server, stream, after_id, [])
  def xread(server, stream, after_id, opts), do: do_xread(server, stream, after_id, opts, false)

  @doc "Like `xread/4`, each entry's `value` being its exact MessagePack bytes."
  def xread_raw(a, b) when is_binary(a), do: xread_raw(__MODULE__, a, b, [])
  def xread_raw(a, b, c) when is_binary(a), do: xread_raw(__MODULE__, a, b, c)
  def xread_raw(server, stream, after_id), do: xread_raw(server, stream, after_id, [])

  def xread_raw(server, stream, after_id, opts),
    do: do_xread(server, stream, after_id, opts, true)

  defp do_xread(server, stream, after_id, opts, raw?) do
    fields = [{"after", after_id} | opt_fields(opts, limit: "limit", wait_ms: "wait_ms")]
    entries_call(server, "xread", stream, fields, read_timeout(opts), raw?)
  end

  # A blocking read may legitimately take wait_ms: the caller's timeout counts on top of it.
  defp read_timeout(opts) do
    case {Keyword.get(opts, :wait_ms, 0), Keyword.get(opts, :timeout, @default_timeout)} do
      {wait, timeout} when is_integer(wait) and wait > 0 and is_integer(timeout) ->
        Keyword.put(opts, :timeout, wait + timeout)

      _ ->
        opts
    end
  end

  defp entries_call(server, op, stream, fields, opts, raw?) do
    with {:ok, resp} <- call(server, op, stream, [{"stream", str(stream)} | fields], opts),
         {:ok, more} <- field(resp, "more"),
         {:ok, raw_entries} <- Map.fetch(resp, "entries") |> or_missing("entries"),
         {:ok, items} <- split(raw_entries),
         {:ok, entries} <- map_ok(items, &decode_entry(&1, raw?)) do
      {:ok, entries, more}
    end
  end

  defp decode_entry(item, raw?) do
    with {:ok, [id_raw, ts_raw, v]} <- Msgpack.split_array(item),
         {:ok, id} when is_integer(id) <- Msgpack.decode(id_raw),
         {:ok, ts} when is_integer(ts) <- Msgpack.decode(ts_raw),
         {:ok, value} <- entry_value(v, raw?) do
      {:ok, %Entry{id: id, ts: ts, value: value}}
    else
      {:error, {:invalid_msgpack, _}} = err -> err
      other -> {:error, {:protocol_error, {:bad_entry, other}}}
    end
  end

  defp entry_value(raw, true), do: {:ok, raw}
  defp entry_value(raw, false), do: decode_value(raw)

  @doc """
  Describes a stream: `{:ok, %{exists: bool, length: n, first_id: id, last_id: id,
  first_ts: ts, last_ts: ts, maxlen: n, max_age_ms: n, groups: %{group => committed_id}}}`.
  For an existing stream `first_id`/`last_id` are integers (`first_id = last_id + 1` when it is
  empty) and `first_ts`/`last_ts` are `nil` when it is empty; `maxlen`/`max_age_ms` are the
  stored retention (`nil` when unset). A stream that does not exist: `exists: false`,
  `length: 0`, `groups: %{}`, every other field `nil`.
  """
  def xinfo(a) when is_binary(a), do: xinfo(__MODULE__, a, [])
  def xinfo(a, b) when is_binary(a), do: xinfo(__MODULE__, a, b)
  def xinfo(server, stream), do: xinfo(server, stream, [])

  def xinfo(server, stream, opts) do
    with {:ok, resp} <- call(server, "xinfo", stream, [{"stream", str(stream)}], opts),
         {:ok, m} <- decode_all(resp) do
      fields = ~w(exists length first_id last_id first_ts last_ts maxlen max_age_ms groups)
      {:ok, Map.new(fields, fn f -> {String.to_atom(f), Map.get(m, f)} end)}
    end
  end

  @doc """
  Removes entries from the head of a stream once (nothing is stored): those beyond the newest
  `maxlen:` (0 removes all), those with id < `min_id:`, those older than `max_age_ms:` (0: all);
  several limits remove their union, at least one is required. `{:ok, removed_count}`.
  """
  def xtrim(a, b) when is_binary(a), do: xtrim(__MODULE__, a, b)
  def xtrim(server, stream), do: xtrim(server, stream, [])

  def xtrim(server, stream, opts) do
    fields =
      [{"stream", str(stream)}] ++
        opt_fields(opts, maxlen: "maxlen", min_id: "min_id", max_age_ms: "max_age_ms")

    with {:ok, resp} <- call(server, "xtrim", stream, fields, opts), do: field(resp, "removed")
  end

  @doc "Removes a stream, its entries and its offsets: `{:ok, dropped?}` (false if absent)."
  def xdrop(a) when is_binary(a), do: xdrop(__MODULE__, a, [])
  def xdrop(a, b) when is_binary(a), do: xdrop(__MODULE__, a, b)
  def xdrop(server, stream), do: xdrop(server, stream, [])

  def xdrop(server, stream, opts) do
    with {:ok, resp} <- call(server, "xdrop", stream, [{"stream", str(stream)}], opts),
         do: field(resp, "dropped")
  end

  @doc """
  One page of stream names in ascending byte order: `{:ok, names, more?}`. Options: `prefix:`,
  `after:` (exclusive name), `limit:` (engine default 1000, max 10000), `timeout:`.
  See `stream_names/2` for a lazy `Stream` over every name and `xstreams_all/2` for a list.
  """
  def xstreams(a \\ [])
  def xstreams(a) when is_list(a), do: xstreams(__MODULE__, a)
  def xstreams(server), do: xstreams(server, [])

  def xstreams(server, opts) do
    fields = opt_fields(opts, prefix: "prefix", after: "after", limit: "limit")

    with {:ok, resp} <- call(server, "xstreams", nil, fields, opts),
         {:ok, names} <- field(resp, "streams"),
         {:ok, more} <- field(resp, "more") do
      {:ok, names, more}
    end
  end

  @doc "Every stream name matching `prefix:` (pages through `xstreams/2`): `{:ok, names}`."
  def xstreams_all(a \\ [])
  def xstreams_all(a) when is_list(a), do: xstreams_all(__MODULE__, a)
  def xstreams_all(server), do: xstreams_all(server, [])

  def xstreams_all(server, opts) do
    {:ok, server |> stream_names(opts) |> Enum.to_list()}
  rescue
    e in Error -> {:error, e.reason}
  end

  @doc """
  A lazy `Stream` of every stream name (matching `prefix:`, after `after:`), fetched one
  `xstreams/2` page of `limit:` names at a time as it is consumed. An engine error while paging
  raises `LiteStash.Error`.

      LiteStash.stream_names(prefix: "orders:") |> Enum.take(10)
  """
  def stream_names(a \\ [])
  def stream_names(a) when is_list(a), do: stream_names(__MODULE__, a)
  def stream_names(server), do: stream_names(server, [])

  def stream_names(server, opts) do
    Stream.resource(
      fn -> Keyword.get(opts, :after) end,
      fn
        :done ->
          {:halt, :done}

        after_name ->
          page_opts = if after_name, do: Keyword.put(opts, :after, after_name), else: opts

          case xstreams(server, page_opts) do
            {:ok, [], _} -> {:halt, :done}
            {:ok, names, true} -> {names, List.last(names)}
            {:ok, names, false} -> {names, :done}
            {:error, reason} -> raise Error, reason: reason
          end
      end,
      fn _ -> :ok end
    )
  end

  @doc """
  Records `entry_id` as the last entry consumer group `group` has processed in `stream`: `:ok`.
  A commit may move backwards (a replay) and may be 0; committing on a stream that does not
  exist, or past its last id, is `{:error, {:bad_request, _}}` and records nothing.
  """
  def xcommit(a, b, c) when is_binary(a), do: xcommit(__MODULE__, a, b, c, [])
  def xcommit(a, b, c, d) when is_binary(a), do: xcommit(__MODULE__, a, b, c, d)
  def xcommit(server, stream, group, entry_id), do: xcommit(server, stream, group, entry_id, [])

  def xcommit(server, stream, group, entry_id, opts) do
    fields = [{"stream", str(stream)}, {"group", str(group)}, {"entry_id", entry_id}]
    with {:ok, _} <- call(server, "xcommit", stream, fields, opts), do: :ok
  end

  @doc "A group's committed entry id: `{:ok, entry_id}`, `{:ok, nil}` if it never committed."
  def xoffset(a, b) when is_binary(a), do: xoffset(__MODULE__, a, b, [])
  def xoffset(a, b, c) when is_binary(a), do: xoffset(__MODULE__, a, b, c)
  def xoffset(server, stream, group), do: xoffset(server, stream, group, [])

  def xoffset(server, stream, group, opts) do
    fields = [{"stream", str(stream)}, {"group", str(group)}]
    with {:ok, resp} <- call(server, "xoffset", stream, fields, opts), do: field(resp, "entry_id")
  end

  @doc """
  Low-level request: sends `op` with `fields` (a list of `{name, term}`; wrap pre-encoded
  bytes in `%LiteStash.Msgpack.Raw{}`) and answers `{:ok, response}` with every response field
  decoded (`"id"`, `"ok"` included) or `{:error, {code, message}}`. When `fields` has a `"key"`
  the shard is added (likewise for `"stream"`), unless option `shard:` gives one (an integer) or
  `:none`.
  """
  def request(server \\ __MODULE__, op, fields, opts \\ []) do
    key =
      case List.keyfind(fields, "key", 0) || List.keyfind(fields, "stream", 0) do
        {_, k} when is_binary(k) -> k
        {_, {:str, k}} when is_binary(k) -> k
        _ -> nil
      end

    with {:ok, resp} <- call(server, op, key, fields, opts), do: decode_all(resp)
  end

  @doc """
  Sends `body` as one frame as is (no id added) and waits for the engine's answer carrying
  `id` nil, decoded. For protocol tests (empty frames, garbage, hand-made requests).
  """
  def send_frame(server \\ __MODULE__, body, opts \\ []) when is_binary(body) do
    timeout = Keyword.get(opts, :timeout, @default_timeout)
    expect = Keyword.get(opts, :expect_id)

    safe_call(server, {:raw_frame, body, expect}, timeout)
    |> case do
      {:ok, data} -> decode_response_map(data)
      err -> err
    end
  end

  # ------------------------------------------------------------------ client-side helpers

  defp key_op(server, op, key, extra, result, opts) do
    with {:ok, resp} <- call(server, op, key, [{"key", {:str, key}} | extra], opts),
         do: field(resp, result)
  end

  defp simple(server, op, opts) do
    with {:ok, _} <- call(server, op, nil, [], opts), do: :ok
  end

  # Keys, prefixes and `after` are always sent as MessagePack str, even when the bytes are not
  # valid UTF-8 (the engine then answers invalid_key / bad_request, as the contract says).
  defp str(b) when is_binary(b), do: {:str, b}
  defp str(other), do: other
  defp str_list(keys) when is_list(keys), do: Enum.map(keys, &str/1)
  defp str_list(other), do: other

  # The request fields for the options present in `opts`: [{opt, wire_name}, ...].
  defp opt_fields(opts, names) do
    for {opt, name} <- names,
        Keyword.has_key?(opts, opt),
        do: {name, str(Keyword.fetch!(opts, opt))}
  end

  # Maps `fun` (answering {:ok, x} or an error) over `list`: {:ok, xs} or the first error.
  # Also used by LiteStash.Txn.
  @doc false
  def map_ok(list, fun) do
    Enum.reduce_while(list, {:ok, []}, fn item, {:ok, acc} ->
      case fun.(item) do
        {:ok, x} -> {:cont, {:ok, [x | acc]}}
        err -> {:halt, err}
      end
    end)
    |> case do
      {:ok, acc} -> {:ok, Enum.reverse(acc)}
      err -> err
    end
  end

  defp same_length([first | rest], what) do
    if is_list(first) and Enum.all?(rest, &(is_list(&1) and length(&1) == length(first))),
      do: :ok,
      else: {:error, {:protocol_error, what}}
  end

  defp ttl_field(opts) do
    case Keyword.fetch(opts, :ttl_ms) do
      {:ok, ttl} -> [{"ttl_ms", ttl}]
      :error -> []
    end
  end

  defp encode_value(value) do
    case Msgpack.encode(value) do
      {:ok, iodata} -> {:ok, IO.iodata_to_binary(iodata)}
      err -> err
    end
  end

  defp decode_value(raw) do
    case Msgpack.decode(raw) do
      {:ok, v} -> {:ok, v}
      {:error, reason} -> {:error, {:invalid_msgpack, reason}}
    end
  end

  defp check_one_object(bytes) do
    case Msgpack.skip(bytes) do
      {:ok, n} when n == byte_size(bytes) -> :ok
      {:ok, n} -> {:error, {:invalid_msgpack, {:trailing_bytes, byte_size(bytes) - n}}}
      {:error, reason} -> {:error, {:invalid_msgpack, reason}}
    end
  end

  defp check_error(raw) when is_binary(raw) do
    case check_one_object(raw) do
      :ok -> nil
      err -> err
    end
  end

  defp check_error(other), do: {:error, {:invalid_msgpack, {:not_a_binary, other}}}

  defp field(resp, name) do
    with {:ok, raw} <- Map.fetch(resp, name) |> or_missing(name) do
      case Msgpack.decode(raw) do
        {:ok, v} -> {:ok, v}
        {:error, reason} -> {:error, {:protocol_error, {name, reason}}}
      end
    end
  end

  defp or_missing({:ok, v}, _name), do: {:ok, v}
  defp or_missing(:error, name), do: {:error, {:protocol_error, {:missing_field, name}}}

  defp split(raw) do
    case Msgpack.split_array(raw) do
      {:ok, items} -> {:ok, items}
      {:error, reason} -> {:error, {:protocol_error, {:values, reason}}}
    end
  end

  defp decode_all(resp) do
    Enum.reduce_while(resp, {:ok, %{}}, fn {k, raw}, {:ok, acc} ->
      case Msgpack.decode(raw) do
        {:ok, v} -> {:cont, {:ok, Map.put(acc, k, v)}}
        {:error, reason} -> {:halt, {:error, {:protocol_error, {k, reason}}}}
      end
    end)
  end

  defp decode_response_map(data) do
    case Msgpack.decode(data) do
      {:ok, map} -> {:ok, map}
      {:error, reason} -> {:error, {:protocol_error, reason}}
    end
  end

  # Encodes the request fields in the caller, then hands them to the server, which adds `id`
  # (and `shard`), sends the frame and replies when the matching answer arrives.
  # `key` is the key or stream name the request is routed by (nil: not routed; a non-binary is
  # not routed either, so the engine answers its type_error).
  defp call(server, op, key, fields, opts) do
    timeout = Keyword.get(opts, :timeout, @default_timeout)
    route = if is_binary(key), do: Keyword.get(opts, :shard, {:key, key}), else: :none

    case Msgpack.encode({:map, [{"op", op} | fields]}) do
      {:ok, [_header | body]} ->
        server
        |> safe_call({:request, route, length(fields) + 1, body}, timeout)
        |> conflict_key(fields)

      {:error, reason} ->
        {:error, reason}
    end
  end

  # A conflict on a single-key write names the request's key when the engine does not.
  defp conflict_key({:error, {:conflict, msg, %{key: nil} = detail}}, fields) do
    case List.keyfind(fields, "key", 0) do
      {"key", {:str, k}} -> {:error, {:conflict, msg, %{detail | key: k}}}
      {"key", k} when is_binary(k) -> {:error, {:conflict, msg, %{detail | key: k}}}
      _ -> {:error, {:conflict, msg, detail}}
    end
  end

  defp conflict_key(result, _fields), do: result

  defp safe_call(server, msg, timeout) do
    GenServer.call(server, msg, timeout)
  catch
    :exit, {:timeout, _} -> {:error, :timeout}
    :exit, {:noproc, _} -> {:error, :not_running}
    :exit, {{:shutdown, {:engine_exited, status}}, _} -> {:error, {:engine_exited, status}}
    :exit, {reason, _} -> {:error, {:server_exit, reason}}
  end

  # ------------------------------------------------------------------ GenServer

  @impl true
  def init(opts) do
    # Trap exits so that `terminate/2` runs (closing the engine cleanly) when the parent stops.
    Process.flag(:trap_exit, true)
    timeout = Keyword.get(opts, :timeout, @default_timeout)

    with {:ok, path} <- find_engine(Keyword.get(opts, :engine)),
         {:ok, port} <- open_port(path, engine_args(opts)),
         {:ok, hello} <- handshake(port, timeout) do
      {:os_pid, os_pid} = Port.info(port, :os_pid)

      {:ok,
       %{
         port: port,
         os_pid: os_pid,
         hello: hello,
         shards: hello["shards"],
         next_id: 1,
         pending: %{},
         raw_waiters: :queue.new()
       }}
    else
      {:error, reason} -> {:stop, reason}
    end
  end

  defp engine_args(opts) do
    opts = Keyword.put_new(opts, :log_level, @default_log_level)

    flags = [
      data_dir: "--data-dir",
      shards: "--shards",
      sync: "--sync",
      log_level: "--log-level",
      max_value_bytes: "--max-value-bytes",
      max_key_bytes: "--max-key-bytes",
      max_frame_bytes: "--max-frame-bytes",
      keep_versions: "--keep-versions"
    ]

    args =
      for {opt, flag} <- flags, Keyword.get(opts, opt) != nil, into: [] do
        [flag, to_string(Keyword.fetch!(opts, opt))]
      end

    memory = if Keyword.get(opts, :memory, false), do: ["--memory"], else: []
    List.flatten(args) ++ memory ++ Keyword.get(opts, :engine_args, [])
  end

  defp open_port(path, args) do
    port =
      Port.open({:spawn_executable, path}, [
        :binary,
        {:packet, 4},
        :exit_status,
        :use_stdio,
        args: args
      ])

    {:ok, port}
  rescue
    e in ErlangError -> {:error, {:engine_spawn_failed, path, e.original}}
  end

  # Sends `hello` (id 0) and checks the engine speaks protocol 1 or 2 with our routing.
  defp handshake(port, timeout) do
    port_send(port, Msgpack.encode!(%{"id" => 0, "op" => "hello"}))

    receive do
      {^port, {:data, data}} ->
        with {:ok, resp} <- decode_response_map(data) do
          case resp do
            %{"id" => 0, "ok" => true, "protocol" => p, "hash" => "blake2b-512", "shards" => n}
            when p in @protocols and is_integer(n) and n > 0 ->
              {:ok, resp}

            %{"ok" => false, "error" => %{"code" => c, "message" => m}} ->
              close_port(port)
              {:error, {:hello_failed, {Error.code(c), m}}}

            other ->
              close_port(port)
              {:error, {:incompatible_engine, other}}
          end
        end

      {^port, {:exit_status, status}} ->
        {:error, {:engine_exited, status}}

      {:EXIT, ^port, reason} when reason != :normal ->
        {:error, {:engine_exited, reason}}
    after
      timeout ->
        close_port(port)
        {:error, :hello_timeout}
    end
  end

  @impl true
  def handle_call({:request, route, nfields, body}, from, state) do
    id = state.next_id

    shard_field =
      case route do
        :none -> []
        {:key, key} -> ["shard", Routing.shard(key, state.shards)]
        n when is_integer(n) -> ["shard", n]
      end

    head = ["id", id | shard_field]
    header = Msgpack.map_header(nfields + div(length(head), 2))
    port_send(state.port, [header, Enum.map(head, &Msgpack.encode!/1), body])
    {:noreply, %{state | next_id: id + 1, pending: Map.put(state.pending, id, from)}}
  end

  def handle_call({:raw_frame, body, expect_id}, from, state) do
    port_send(state.port, body)

    state =
      if is_integer(expect_id),
        do: %{state | pending: Map.put(state.pending, {:raw, expect_id}, from)},
        else: %{state | raw_waiters: :queue.in(from, state.raw_waiters)}

    {:noreply, state}
  end

  def handle_call(:info, _from, %{hello: hello} = state) do
    keep =
      case Map.get(hello, "keep_versions", 0) do
        @keep_all -> :all
        n -> n
      end

    {:reply,
     %{
       hello: hello,
       os_pid: state.os_pid,
       shards: state.shards,
       protocol: hello["protocol"],
       keep_versions: keep,
       features: Map.get(hello, "features", [])
     }, state}
  end

  @impl true
  def handle_info({port, {:data, data}}, %{port: port} = state) do
    {:noreply, dispatch(data, state)}
  end

  def handle_info({port, {:exit_status, status}}, %{port: port} = state) do
    Logger.warning("litestash-engine exited with status #{status}")
    engine_exited(status, state)
  end

  # A write that met the engine's closed stdin (it died before Erlang learned its status):
  # Erlang closes the port with reason :epipe and never sends the exit status.
  def handle_info({:EXIT, port, reason}, %{port: port} = state) when reason != :normal do
    Logger.warning("litestash-engine died; its port closed with #{inspect(reason)}")
    engine_exited(reason, state)
  end

  def handle_info({:EXIT, port, _reason}, %{port: port} = state), do: {:noreply, state}
  def handle_info({:EXIT, _pid, reason}, state), do: {:stop, reason, state}
  def handle_info(_other, state), do: {:noreply, state}

  # Routes one response frame to the caller waiting for its id.
  defp dispatch(data, state) do
    with {:ok, spans} <- Msgpack.decode_map_spans(data),
         {:ok, id} <- Map.fetch(spans, "id") |> or_missing("id"),
         {:ok, id} <- Msgpack.decode(id) do
      deliver(id, data, spans, state)
    else
      err ->
        Logger.error("litestash: undecodable engine response #{inspect(err)}: #{inspect(data)}")
        state
    end
  end

  defp deliver(nil, data, _spans, state) do
    case :queue.out(state.raw_waiters) do
      {{:value, from}, rest} ->
        GenServer.reply(from, {:ok, data})
        %{state | raw_waiters: rest}

      {:empty, _} ->
        Logger.error("litestash: engine answered with id nil: #{inspect(data)}")
        state
    end
  end

  defp deliver(id, data, spans, state) do
    case Map.pop(state.pending, id) do
      {nil, _} ->
        case Map.pop(state.pending, {:raw, id}) do
          {nil, _} ->
            Logger.error("litestash: answer for unknown id #{inspect(id)}")
            state

          {from, pending} ->
            GenServer.reply(from, {:ok, data})
            %{state | pending: pending}
        end

      {from, pending} ->
        GenServer.reply(from, to_result(spans))
        %{state | pending: pending}
    end
  end

  defp to_result(spans) do
    case Map.fetch(spans, "ok") do
      {:ok, <<0xC3>>} ->
        {:ok, spans}

      {:ok, <<0xC2>>} ->
        with {:ok, err} <- spans |> Map.get("error", <<0xC0>>) |> Msgpack.decode(),
             reason when reason != nil <- Error.from_wire(err) do
          {:error, reason}
        else
          other -> {:error, {:protocol_error, {:bad_error_field, other}}}
        end

      other ->
        {:error, {:protocol_error, {:bad_ok_field, other}}}
    end
  end

  defp engine_exited(status, state) do
    fail_all(state, {:error, {:engine_exited, status}})
    {:stop, {:shutdown, {:engine_exited, status}}, %{state | port: nil, pending: %{}}}
  end

  # If the engine has just died the port is closed and sending raises; the caller stays
  # pending and is answered {:error, {:engine_exited, status}} by the exit_status message
  # (or by the port's :EXIT when the write itself broke the pipe).
  defp port_send(port, iodata) do
    Port.command(port, iodata)
  rescue
    ArgumentError -> :closed
  end

  defp fail_all(state, reply) do
    Enum.each(state.pending, fn {_id, from} -> GenServer.reply(from, reply) end)
    state.raw_waiters |> :queue.to_list() |> Enum.each(&GenServer.reply(&1, reply))
  end

  @impl true
  def terminate(_reason, %{port: nil}), do: :ok

  def terminate(_reason, state) do
    fail_all(state, {:error, :not_running})
    close_port(state.port)
    wait_os_exit(state.os_pid, 10_000)
  end

  defp close_port(port) do
    Port.close(port)
  rescue
    ArgumentError -> :ok
  end

  # Closing the port closes the engine's stdin; the engine then drains, commits and exits.
  # Wait for the process to be gone (Linux: /proc/<pid>) so callers can remove the data dir.
  defp wait_os_exit(os_pid, left) when left <= 0 do
    Logger.warning("litestash-engine #{os_pid} still running after stdin closed; killing it")
    System.cmd("kill", ["-KILL", to_string(os_pid)], stderr_to_stdout: true)
    :ok
  end

  defp wait_os_exit(os_pid, left) do
    if File.exists?("/proc/#{os_pid}") and not zombie?(os_pid) do
      Process.sleep(10)
      wait_os_exit(os_pid, left - 10)
    else
      :ok
    end
  end

  defp zombie?(os_pid) do
    case File.read("/proc/#{os_pid}/stat") do
      {:ok, stat} -> stat |> String.split(") ") |> List.last() |> String.starts_with?("Z")
      _ -> true
    end
  end
end
