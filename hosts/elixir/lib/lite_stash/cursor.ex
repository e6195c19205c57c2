defmodule LiteStash.Cursor do
  @moduledoc false
  # The reading position shared by `LiteStash.Consumer` and `LiteStash.Subscriber`: where a
  # reader starts, and how it notices that entries it has not read yet were trimmed away (or
  # that the stream was dropped and created again, restarting its ids at 1).

  require Logger

  defstruct [:server, :stream, :group, :pos, :committed, :strict, :on_trimmed]

  @type t :: %__MODULE__{
          server: GenServer.server(),
          stream: binary,
          group: binary | nil,
          # the id of the last entry read: the next read is `xread after: pos`
          pos: non_neg_integer,
          # the group's committed offset as last read or written (nil: never committed)
          committed: non_neg_integer | nil,
          # whether an entry missing right after `pos` is a loss (false only for a start at
          # :earliest with nothing committed, where the first live entry is the start)
          strict: boolean,
          on_trimmed: :earliest | :error
        }

  @doc """
  Opens a cursor: the group's committed offset when it has one, else `from` (`:earliest`,
  `:latest` or an entry id, inclusive). Returns `{:ok, cursor}` or `{:error, reason}`.
  """
  def open(server, stream, group, from, on_trimmed, opts) do
    unless on_trimmed in [:earliest, :error] do
      raise ArgumentError, "on_trimmed must be :earliest or :error, got #{inspect(on_trimmed)}"
    end

    cursor = %__MODULE__{server: server, stream: stream, group: group, on_trimmed: on_trimmed}

    with {:ok, committed} <- committed(server, stream, group, opts),
         {:ok, pos, strict} <- start(server, stream, committed, from, opts) do
      {:ok, %{cursor | pos: pos, committed: committed, strict: strict}}
    end
  end

  defp committed(_server, _stream, nil, _opts), do: {:ok, nil}

  defp committed(server, stream, group, opts),
    do: LiteStash.xoffset(server, stream, group, timeout_opt(opts))

  defp start(_server, _stream, committed, _from, _opts) when is_integer(committed),
    do: {:ok, committed, true}

  defp start(_server, _stream, nil, :earliest, _opts), do: {:ok, 0, false}

  defp start(server, stream, nil, :latest, opts) do
    with {:ok, info} <- LiteStash.xinfo(server, stream, timeout_opt(opts)),
         do: {:ok, info.last_id || 0, true}
  end

  defp start(_server, _stream, nil, id, _opts) when is_integer(id) and id >= 1,
    do: {:ok, id - 1, true}

  defp start(_server, _stream, nil, from, _opts) do
    raise ArgumentError,
          "from must be :earliest, :latest or an entry id >= 1, got #{inspect(from)}"
  end

  @doc """
  Accepts a batch read after `cursor.pos`: `{:ok, entries, cursor}` with `pos` moved to the
  last entry, or `{:error, {:trimmed, details}}` when entries before the batch were trimmed
  away unread and `on_trimmed` is `:error`.
  """
  def advance(%__MODULE__{} = c, [first | _] = entries) do
    if c.strict and first.id > c.pos + 1 and c.on_trimmed == :error do
      {:error, {:trimmed, trimmed(c, first.id)}}
    else
      if c.strict and first.id > c.pos + 1 do
        Logger.warning(
          "litestash: #{inspect(c.stream)} entries #{c.pos + 1}..#{first.id - 1} were " <>
            "trimmed before #{reader(c)} read them; going on at #{first.id}"
        )
      end

      {:ok, entries, %{c | pos: List.last(entries).id, strict: true}}
    end
  end

  @doc """
  After a read that found nothing: checks that the stream has not been dropped and created
  again below `pos` (its ids restart at 1, so reading after `pos` would wait forever).
  `{:ok, cursor}` (possibly moved back to 0 under `on_trimmed: :earliest`) or
  `{:error, reason}`.
  """
  def idle(%__MODULE__{pos: 0} = c, _opts), do: {:ok, c}

  def idle(%__MODULE__{} = c, opts) do
    case LiteStash.xinfo(c.server, c.stream, timeout_opt(opts)) do
      {:ok, %{exists: true, last_id: last}} when last < c.pos ->
        if c.on_trimmed == :error do
          {:error, {:trimmed, Map.put(trimmed(c, nil), :last_id, last)}}
        else
          Logger.warning(
            "litestash: #{inspect(c.stream)} was dropped and created again (last id #{last} < " <>
              "#{c.pos}); #{reader(c)} starts over at its first entry"
          )

          {:ok, %{c | pos: 0, strict: false, committed: nil}}
        end

      {:ok, _} ->
        {:ok, c}

      {:error, _} = err ->
        err
    end
  end

  @doc "Commits `id` for the cursor's group when it is past what was committed: `{:ok, cursor}`."
  def commit(%__MODULE__{group: nil} = c, _id, _opts), do: {:ok, c}

  def commit(%__MODULE__{committed: done} = c, id, _opts) when is_integer(done) and id <= done,
    do: {:ok, c}

  def commit(%__MODULE__{} = c, id, _opts) when id <= 0, do: {:ok, c}

  def commit(%__MODULE__{} = c, id, opts) do
    with :ok <- LiteStash.xcommit(c.server, c.stream, c.group, id, timeout_opt(opts)),
         do: {:ok, %{c | committed: id}}
  end

  defp trimmed(c, next_id),
    do: %{stream: c.stream, group: c.group, after: c.pos, next_id: next_id}

  defp reader(%{group: nil}), do: "the reader"
  defp reader(%{group: g}), do: "group #{inspect(g)}"

  defp timeout_opt(opts), do: Keyword.take(opts, [:timeout])
end
