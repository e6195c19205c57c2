defmodule LiteStash.Txn do
  @moduledoc """
  A transaction (protocol 2 `txn`) built as a plain value and sent with `LiteStash.commit/3`:
  optional version checks, then writes, **all or nothing across shards** (also on crash).

      alias LiteStash.Txn

      {:ok, a, va} = LiteStash.get_versioned(conn, "acct:a")
      {:ok, b, vb} = LiteStash.get_versioned(conn, "acct:b")

      Txn.new()
      |> Txn.check("acct:a", va)                 # still at the version read above
      |> Txn.check("acct:b", vb)
      |> Txn.set("acct:a", a - 30)
      |> Txn.set("acct:b", b + 30)
      |> Txn.xadd("transfers", %{from: "a", to: "b", amount: 30})
      |> Txn.delete("hold:a")
      |> LiteStash.commit(conn)
      #=> {:ok, [version_a, version_b, entry_id, deleted?]}   (one result per op, in order)
      #   or {:error, {:conflict, message, %{key: "acct:b", version: current_version}}}

  * `check/3`: the key must be at exactly this version when the transaction runs (0: absent or
    expired). One failed check refuses the whole transaction: nothing is written, and the
    answer is the `conflict` of the first failed check (in shard order) with that key's current
    version. Checks are evaluated under the write locks of their shards, held until the commit,
    so no write of any engine on the data dir comes between a check and the writes.
  * `set/4` (option `ttl_ms:`; without it any earlier expiry goes, as for `LiteStash.set/4`),
    `set_raw/4`, `delete/2`, `xadd/3`, `xadd_raw/3`: the writes, applied in the order added.
    Results: a set's new version, a delete's `deleted?` boolean, an xadd's entry id.
  * A key may be set or deleted at most once per transaction, several `xadd`s may append to
    one stream, checks may name keys the transaction writes; 1..10000 ops and at most 10000
    checks. The engine refuses a transaction that breaks these rules with
    `{:error, {:bad_request, message}}` (and a bad key with `{:error, {:invalid_key, _}}`, as
    for the single-key ops), writing nothing.
  * Values are encoded when the transaction is committed: an unencodable value makes
    `LiteStash.commit/3` answer `{:error, {:unencodable, term}}` without sending anything.

  A `%Txn{}` is an ordinary immutable value: it can be built once and committed several times
  (for example in a retry loop that rebuilds only the checks), or inspected (`ops/1`,
  `checks/1`). Nothing is sent before `LiteStash.commit/3` (or `commit/3` here).
  """

  alias LiteStash.Msgpack
  alias LiteStash.Msgpack.Raw

  # Ops and checks are kept newest first and reversed once, at encoding time.
  defstruct checks: [], ops: []

  @type key :: binary
  @type stream :: binary
  @type op ::
          {:set, key, {:term, term} | {:raw, binary}, keyword}
          | {:delete, key}
          | {:xadd, stream, {:term, term} | {:raw, binary}}
  @type t :: %__MODULE__{checks: [{key, non_neg_integer}], ops: [op]}
  @type result :: non_neg_integer | boolean

  @doc "An empty transaction."
  @spec new() :: t
  def new, do: %__MODULE__{}

  @doc """
  Adds a check: `key` must be at exactly `version` (from `LiteStash.get_versioned/3`,
  `LiteStash.set_versioned/4`, `LiteStash.versions/3` or a conflict's `version`) when the
  transaction runs; `0` means the key must be absent or expired.
  """
  @spec check(t, key, non_neg_integer) :: t
  def check(%__MODULE__{} = txn, key, version)
      when is_binary(key) and is_integer(version) and version >= 0,
      do: %{txn | checks: [{key, version} | txn.checks]}

  @doc """
  Adds a `set` of `value` (any term `LiteStash.Msgpack` encodes). Option `ttl_ms:` (≥ 1); without
  it the key's earlier expiry is removed. Its result is the key's new version.
  """
  @spec set(t, key, term, keyword) :: t
  def set(%__MODULE__{} = txn, key, value, opts \\ []) when is_binary(key) and is_list(opts),
    do: add(txn, {:set, key, {:term, value}, Keyword.take(opts, [:ttl_ms])})

  @doc "Like `set/4`, `bytes` holding exactly one MessagePack object, stored unchanged."
  @spec set_raw(t, key, binary, keyword) :: t
  def set_raw(%__MODULE__{} = txn, key, bytes, opts \\ [])
      when is_binary(key) and is_binary(bytes) and is_list(opts),
      do: add(txn, {:set, key, {:raw, bytes}, Keyword.take(opts, [:ttl_ms])})

  @doc "Adds a `delete` of `key`. Its result is `true` when a live key was removed."
  @spec delete(t, key) :: t
  def delete(%__MODULE__{} = txn, key) when is_binary(key), do: add(txn, {:delete, key})

  @doc """
  Adds an append of `value` to `stream` (no retention options inside a transaction: the
  stream's stored retention still applies). Its result is the new entry id.
  """
  @spec xadd(t, stream, term) :: t
  def xadd(%__MODULE__{} = txn, stream, value) when is_binary(stream),
    do: add(txn, {:xadd, stream, {:term, value}})

  @doc "Like `xadd/3`, `bytes` holding exactly one MessagePack object, stored unchanged."
  @spec xadd_raw(t, stream, binary) :: t
  def xadd_raw(%__MODULE__{} = txn, stream, bytes) when is_binary(stream) and is_binary(bytes),
    do: add(txn, {:xadd, stream, {:raw, bytes}})

  @doc "The ops in the order they were added."
  @spec ops(t) :: [op]
  def ops(%__MODULE__{ops: ops}), do: Enum.reverse(ops)

  @doc "The checks in the order they were added, as `{key, version}`."
  @spec checks(t) :: [{key, non_neg_integer}]
  def checks(%__MODULE__{checks: checks}), do: Enum.reverse(checks)

  @doc """
  Pipe-friendly `LiteStash.commit/3`: `txn |> Txn.commit(server, timeout: 30_000)`.
  `server` defaults to `LiteStash`.
  """
  @spec commit(t, GenServer.server(), keyword) :: {:ok, [result]} | LiteStash.error()
  def commit(%__MODULE__{} = txn, server \\ LiteStash, opts \\ []),
    do: LiteStash.commit(server, txn, opts)

  defp add(txn, op), do: %{txn | ops: [op | txn.ops]}

  @doc false
  # The request fields of the `txn` op: {:ok, [{"checks", ...}, {"ops", ...}]} or an error.
  # Keys and stream names go as str (the engine judges them); values as their exact bytes.
  @spec fields(t) :: {:ok, [{binary, term}]} | {:error, term}
  def fields(%__MODULE__{} = txn) do
    with {:ok, ops} <- encode_ops(ops(txn)) do
      checks =
        case checks(txn) do
          [] -> []
          list -> [{"checks", Enum.map(list, fn {k, v} -> [{:str, k}, v] end)}]
        end

      {:ok, checks ++ [{"ops", ops}]}
    end
  end

  defp encode_ops(ops), do: LiteStash.map_ok(ops, &encode_op/1)

  defp encode_op({:set, key, value, opts}) do
    ttl = for {:ttl_ms, ms} <- opts, do: {"ttl_ms", ms}

    with {:ok, raw} <- value_bytes(value),
         do: {:ok, {:map, [{"op", "set"}, {"key", {:str, key}}, {"value", raw} | ttl]}}
  end

  defp encode_op({:delete, key}), do: {:ok, {:map, [{"op", "delete"}, {"key", {:str, key}}]}}

  defp encode_op({:xadd, stream, value}) do
    with {:ok, raw} <- value_bytes(value),
         do: {:ok, {:map, [{"op", "xadd"}, {"stream", {:str, stream}}, {"value", raw}]}}
  end

  defp value_bytes({:term, value}) do
    case Msgpack.encode(value) do
      {:ok, iodata} -> {:ok, %Raw{bytes: IO.iodata_to_binary(iodata)}}
      err -> err
    end
  end

  defp value_bytes({:raw, bytes}) do
    case Msgpack.skip(bytes) do
      {:ok, n} when n == byte_size(bytes) -> {:ok, %Raw{bytes: bytes}}
      {:ok, n} -> {:error, {:invalid_msgpack, {:trailing_bytes, byte_size(bytes) - n}}}
      {:error, reason} -> {:error, {:invalid_msgpack, reason}}
    end
  end
end
