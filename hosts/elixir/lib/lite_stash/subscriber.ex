defmodule LiteStash.Subscriber do
  @moduledoc """
  A process that follows a stream and sends each new entry to a subscriber process as a
  message, in id order:

      {:ok, sub} = LiteStash.Subscriber.start_link(server: LiteStash, stream: "orders", to: self())

      receive do
        {:litestash_entry, "orders", %LiteStash.Entry{id: id, value: order}} -> ...
      end

  It loops blocking `xread`s (run in a task, so the subscriber process itself stays
  responsive) and sends `{:litestash_entry, stream, %LiteStash.Entry{}}` to `to` for every
  entry. It monitors `to` and stops (reason `:normal`) when `to` exits; `stop/1` stops it too.

  ## Options

  * `server:` — the `LiteStash` server (default `LiteStash`);
  * `stream:` — the stream name (required);
  * `to:` — the pid receiving the entries (default: the caller);
  * `from:` — where to start when there is no committed offset to resume from: `:latest`
    (default: entries appended from now on), `:earliest` (every live entry first) or an entry
    id (that entry first);
  * `group:` — a consumer group: the subscriber resumes after the group's committed offset
    (when it has one; `from:` otherwise) and commits the last id of each batch once its
    messages have been sent (at least once as far as delivery to the mailbox goes: a batch
    sent but not yet handled when everything stops is sent again on the next start);
  * `on_trimmed:` — entries removed by retention before they were read (or a stream dropped
    and created again): `:earliest` (default: log a warning and go on with the oldest live
    entry) or `:error` (stop with `{:shutdown, {:trimmed, details}}`, see `LiteStash.Consumer`);
  * `limit:` (entries per read, default 100), `wait_ms:` (per blocking read, default 5000),
    `timeout:`, `raw:` (`true`: `value` holds the exact MessagePack bytes);
  * `name:` — a registered name for the subscriber process.

  When a read fails (the engine exited, the server stopped, ...) the subscriber stops with
  `{:shutdown, {:litestash_error, reason}}`; a read that times out is retried.
  """

  use GenServer
  alias LiteStash.Cursor

  @default_wait_ms 5_000

  @doc "Starts a subscriber linked to the caller (see the moduledoc for the options)."
  def start_link(opts), do: start_with(:start_link, opts)

  @doc "Starts a subscriber without a link."
  def start(opts), do: start_with(:start, opts)

  defp start_with(fun, opts) do
    opts = Keyword.put_new(opts, :to, self())
    gen_opts = if opts[:name], do: [name: opts[:name]], else: []
    apply(GenServer, fun, [__MODULE__, opts, gen_opts])
  end

  @doc "Stops the subscriber."
  def stop(sub, timeout \\ 5_000), do: GenServer.stop(sub, :normal, timeout)

  @impl true
  def init(opts) do
    stream = Keyword.fetch!(opts, :stream)
    to = Keyword.fetch!(opts, :to)
    server = Keyword.get(opts, :server, LiteStash)
    from = Keyword.get(opts, :from, :latest)
    on_trimmed = Keyword.get(opts, :on_trimmed, :earliest)
    Process.monitor(to)

    read_opts =
      Keyword.take(opts, [:limit, :timeout]) ++
        [wait_ms: Keyword.get(opts, :wait_ms, @default_wait_ms)]

    case Cursor.open(server, stream, opts[:group], from, on_trimmed, opts) do
      {:ok, cursor} ->
        state = %{
          cursor: cursor,
          to: to,
          opts: opts,
          read_opts: read_opts,
          raw: Keyword.get(opts, :raw, false),
          task: nil
        }

        {:ok, read(state)}

      {:error, reason} ->
        {:stop, {:litestash_error, reason}}
    end
  end

  # One blocking read at a time, in a task: its answer comes back as {ref, result}.
  defp read(%{cursor: c} = state) do
    {fun, opts} = {if(state.raw, do: :xread_raw, else: :xread), state.read_opts}
    task = Task.async(LiteStash, fun, [c.server, c.stream, c.pos, opts])
    %{state | task: task}
  end

  @impl true
  def handle_info({ref, result}, %{task: %Task{ref: ref}} = state) do
    Process.demonitor(ref, [:flush])
    state = %{state | task: nil}

    case result do
      {:ok, [], _more} ->
        case Cursor.idle(state.cursor, state.opts) do
          {:ok, cursor} -> {:noreply, read(%{state | cursor: cursor})}
          {:error, reason} -> stop_for(reason, state)
        end

      {:ok, entries, _more} ->
        deliver(entries, state)

      {:error, :timeout} ->
        {:noreply, read(state)}

      {:error, reason} ->
        stop_for(reason, state)
    end
  end

  def handle_info({:DOWN, _ref, :process, pid, _reason}, %{to: pid} = state),
    do: {:stop, :normal, state}

  def handle_info(_other, state), do: {:noreply, state}

  defp deliver(entries, state) do
    case Cursor.advance(state.cursor, entries) do
      {:ok, entries, cursor} ->
        stream = cursor.stream
        Enum.each(entries, &send(state.to, {:litestash_entry, stream, &1}))

        case Cursor.commit(cursor, cursor.pos, state.opts) do
          {:ok, cursor} -> {:noreply, read(%{state | cursor: cursor})}
          {:error, reason} -> stop_for(reason, %{state | cursor: cursor})
        end

      {:error, reason} ->
        stop_for(reason, state)
    end
  end

  defp stop_for({:trimmed, _} = reason, state), do: {:stop, {:shutdown, reason}, state}
  defp stop_for(reason, state), do: {:stop, {:shutdown, {:litestash_error, reason}}, state}

  @impl true
  def terminate(_reason, %{task: %Task{} = task}), do: Task.shutdown(task, :brutal_kill)
  def terminate(_reason, _state), do: :ok
end
