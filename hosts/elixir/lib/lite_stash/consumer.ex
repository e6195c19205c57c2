defmodule LiteStash.Consumer do
  @moduledoc """
  The Kafka consumer loop over a stream, as an Elixir `Stream`: entries of `stream` for the
  consumer group `group`, read with blocking `xread`s, committed with `xcommit` (at least once).

      LiteStash.Consumer.stream(LiteStash, "orders", "billing")
      |> Stream.each(fn %LiteStash.Entry{id: id, value: order} -> bill(id, order) end)
      |> Stream.run()

  ## Where it starts and resumes

  * At the group's committed offset (`xoffset`): the first entry emitted is the one after it.
  * A group that never committed starts at `from:` — `:earliest` (default: the first live
    entry), `:latest` (entries appended from now on) or an entry id (that entry first).
  * Every following read asks for the entries after the last id seen, never "from now": no
    entry appended meanwhile is skipped, and the stream is emitted in id order.

  ## Commits (at least once)

  An entry counts as consumed once the pipeline asks for the next one (the `Stream` is lazy:
  an entry has gone through every step of a `Stream.map/each |> Enum/Stream.run` pipeline by
  then). When a whole batch has been consumed, its last id is committed, before the next read.
  When the stream halts early (`Enum.take/2`, `Stream.take_while/2`, an exception in a step),
  the entries consumed so far are committed, all but the last one handed out — which may not
  have been processed (`take_while` rejected it, or the step raised) and is delivered again by
  the next consumer of the group. A crash of the consuming process commits nothing more. So
  every entry is delivered at least once; a restart may deliver again the entries after the
  last commit. Steps that buffer entries (`Stream.chunk_every/2`, `Task.async_stream/3`) pull
  entries before processing them: use `batches: true` instead, which emits each batch as one
  list (committed when the next batch is asked for, or on a halt for every batch but the last).

  ## Trimmed offsets

  When entries the group has not read were removed by retention (`maxlen`/`max_age_ms`,
  `xtrim`) — its committed offset is below the stream's first entry, or entries are trimmed
  while it is behind — `on_trimmed:` decides: `:earliest` (default) logs a warning and goes on
  with the oldest live entry; `:error` raises `LiteStash.Error` with reason
  `{:trimmed, %{stream: s, group: g, after: last_id_seen, next_id: first_id_found}}` (what was
  consumed before is committed, nothing after). A stream dropped and created again (its ids
  start over at 1) is handled the same way: `:earliest` reads the new stream from its first
  entry, `:error` raises with `next_id: nil` and the new stream's `last_id`.

  ## Options

  * `wait_ms:` — how long each read waits for new entries (default 5000, at most 60000);
  * `limit:` — entries per read (1..10000, default 100);
  * `from:`, `on_trimmed:`, `batches:` — see above;
  * `stop_when_idle:` — `true` to halt (after committing everything consumed) when a read
    finds nothing new within `wait_ms` (default `false`: wait for entries forever);
  * `raw:` — `true` for entries whose `value` is the exact MessagePack bytes;
  * `timeout:` — per request, on top of `wait_ms` for reads (default 5000).

  Engine errors raise `LiteStash.Error` with the `{:error, reason}` tuple's reason.
  """

  alias LiteStash.{Cursor, Error}
  require Logger

  @default_wait_ms 5_000

  @doc """
  The consumer `Stream` (see the moduledoc). Forms: `stream(stream, group)`,
  `stream(stream, group, opts)` (the default server `LiteStash`), `stream(server, stream, group)`,
  `stream(server, stream, group, opts)`.
  """
  def stream(a, b) when is_binary(a), do: stream(LiteStash, a, b, [])
  def stream(a, b, c) when is_binary(a), do: stream(LiteStash, a, b, c)
  def stream(server, stream, group), do: stream(server, stream, group, [])

  def stream(server, stream, group, opts) when is_binary(stream) and is_binary(group) do
    from = Keyword.get(opts, :from, :earliest)
    on_trimmed = Keyword.get(opts, :on_trimmed, :earliest)

    read_opts =
      Keyword.take(opts, [:timeout]) ++ [wait_ms: Keyword.get(opts, :wait_ms, @default_wait_ms)]

    read_opts = if opts[:limit], do: [{:limit, opts[:limit]} | read_opts], else: read_opts

    state = %{
      cursor: nil,
      read_opts: read_opts,
      opts: opts,
      raw: Keyword.get(opts, :raw, false),
      batches: Keyword.get(opts, :batches, false),
      stop_when_idle: Keyword.get(opts, :stop_when_idle, false),
      # entries of the current batch not yet handed out
      buffer: [],
      # the id of the last entry handed out, and of the last one known consumed
      handed: nil,
      consumed: nil
    }

    Stream.resource(
      fn ->
        case Cursor.open(server, stream, group, from, on_trimmed, opts) do
          {:ok, cursor} -> %{state | cursor: cursor}
          {:error, reason} -> raise Error, reason: reason
        end
      end,
      &next/1,
      &finish/1
    )
  end

  # Being asked for the next element means everything handed out so far was consumed.
  defp next(%{handed: handed} = st) do
    st = if handed, do: %{st | consumed: handed}, else: st
    emit(st)
  end

  defp emit(%{buffer: [e | rest]} = st), do: {[e], %{st | buffer: rest, handed: e.id}}

  defp emit(%{buffer: []} = st) do
    st = commit!(st, st.consumed)

    case read(st) do
      {:ok, [], _more} ->
        if st.stop_when_idle do
          {:halt, st}
        else
          case Cursor.idle(st.cursor, st.opts) do
            {:ok, %{pos: 0} = cursor} when st.cursor.pos != 0 ->
              # the stream was created again: the ids handed out belong to the old one
              {[], %{st | cursor: cursor, handed: nil, consumed: nil}}

            {:ok, cursor} ->
              {[], %{st | cursor: cursor}}

            {:error, reason} ->
              raise Error, reason: reason
          end
        end

      {:ok, entries, _more} ->
        case Cursor.advance(st.cursor, entries) do
          {:ok, entries, cursor} ->
            st = %{st | cursor: cursor}

            if st.batches,
              do: {[entries], %{st | handed: List.last(entries).id}},
              else: emit(%{st | buffer: entries})

          {:error, reason} ->
            raise Error, reason: reason
        end

      {:error, reason} ->
        raise Error, reason: reason
    end
  end

  defp read(%{cursor: c, raw: true} = st),
    do: LiteStash.xread_raw(c.server, c.stream, c.pos, st.read_opts)

  defp read(%{cursor: c} = st), do: LiteStash.xread(c.server, c.stream, c.pos, st.read_opts)

  defp commit!(st, nil), do: st

  defp commit!(st, id) do
    case Cursor.commit(st.cursor, id, st.opts) do
      {:ok, cursor} -> %{st | cursor: cursor}
      {:error, reason} -> raise Error, reason: reason
    end
  end

  # Halted (by the consumer, an exception, or stop_when_idle): commit what was consumed. Not
  # raising here: the halt may be an exception already on its way.
  defp finish(%{cursor: nil}), do: :ok
  defp finish(%{consumed: nil}), do: :ok

  defp finish(st) do
    case Cursor.commit(st.cursor, st.consumed, st.opts) do
      {:ok, _} ->
        :ok

      {:error, reason} ->
        Logger.warning("litestash: consumer commit on halt failed: #{inspect(reason)}")
        :ok
    end
  end
end
