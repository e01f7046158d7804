defmodule SnapmigCommanded.Server do
  @moduledoc """
  The protocol loop of snapmig-reducer(7), protocol 1 with the raw and
  types additions: one message per line in, replies out, until standard
  input ends.

  The hello reply lists the aggregate snapmig asked for and every
  aggregate of the application's `:snapshotting` configuration, each with
  `"events": "any"` (the pre-flight asks with a `types` request instead)
  and its `snapshot_version` as `Commanded.Snapshotting.new/3` reads it
  from the application's configuration; the one asked for also with its
  fingerprint.  An aggregate type
  is resolved to its module by the configured type provider, as Commanded
  resolves a snapshot's `source_type`.
  """

  alias SnapmigCommanded.{App, Fingerprint, Fold, Stdio}

  @version Mix.Project.config()[:version]

  defstruct [:io, :app, :ctx, aggs: %{}, inst: nil]

  defmodule Inst do
    @moduledoc false
    defstruct [:id, :type, :module, :stream_uuid, :state, failed: false]
  end

  @doc "Serves until standard input ends.  app: `App.load/1`'s result."
  @spec run(Stdio.t(), {:ok, App.t()} | {:error, String.t()}) :: :ok
  def run(io, app), do: loop(%__MODULE__{io: io, app: app})

  defp loop(s) do
    case Stdio.read_line(s.io) do
      :eof -> :ok
      line -> line |> handle(s) |> loop()
    end
  end

  # Events of an instance that has failed (or was never begun) are skipped
  # without being parsed.
  defp handle(<<"{\"op\":\"event\"", _::binary>>, %__MODULE__{inst: inst} = s)
       when inst == nil or inst.failed,
       do: s

  # An event as snapmig writes it: its two base64 members last.  Only the
  # members before them go through the JSON decoder (which would otherwise
  # spend most of its time scanning the base64 text); any other shape is
  # decoded whole below.
  defp handle(<<"{\"op\":\"event\"", _::binary>> = line, s) do
    with [head, tail] <- :binary.split(line, ",\"data_raw\":"),
         {:ok, data, tail} <- raw_member(tail),
         <<",\"metadata_raw\":", tail::binary>> <- tail,
         {:ok, metadata, "}"} <- raw_member(tail),
         {:ok, %{"op" => "event"} = msg} <- Jason.decode([head, ?}]) do
      message("event", Map.merge(msg, %{"data_raw" => data, "metadata_raw" => metadata}), s)
    else
      _ -> handle_json(line, s)
    end
  end

  defp handle(line, s), do: handle_json(line, s)

  defp handle_json(line, s) do
    case Jason.decode(line) do
      {:ok, %{"op" => "event"} = msg} ->
        msg =
          msg
          |> Map.update("data_raw", nil, &raw/1)
          |> Map.update("metadata_raw", nil, &raw/1)

        message("event", msg, s)

      {:ok, %{"op" => op} = msg} ->
        message(op, msg, s)

      _ ->
        IO.puts(:standard_error, "snapmig_commanded: ignored a line that is not a message")
        s
    end
  end

  # ------------------------------------------------------------ hello

  defp message("hello", _msg, %{app: {:error, why}} = s), do: refuse(s, why)

  defp message("hello", msg, %{app: {:ok, app}} = s) do
    if "raw" in List.wrap(msg["features"]) do
      columns = if is_map(msg["columns"]), do: msg["columns"], else: %{}
      default = app.column_data_type || "bytea"
      ctx = Fold.context(app, columns["data"] || default, columns["metadata"] || default)
      s = %{s | ctx: ctx}
      {aggs, s} = hello_aggregates(msg["aggregate"], app, s)

      reply(s, %{
        op: "hello",
        protocol: 1,
        raw: true,
        types: true,
        reducer: "snapmig_commanded #{@version}",
        aggregates: aggs
      })
    else
      refuse(s, "snapmig_commanded needs a snapmig that offers raw mode " <>
                  "(\"features\":[\"raw\"] in its hello): the application's serializer " <>
                  "must read the stored bytes")
    end
  end

  defp message("types", msg, s) do
    with {:ok, module, s} <- aggregate(s, msg["aggregate"]) do
      {unknown, ctx} =
        Enum.reduce(List.wrap(msg["types"]), {%{}, s.ctx}, fn type, {acc, ctx} ->
          case Fold.preflight(ctx, module, type) do
            {:ok, ctx} -> {acc, ctx}
            {{:error, kind, why}, ctx} -> {Map.put(acc, type, %{kind: kind, message: why}), ctx}
          end
        end)

      reply(%{s | ctx: ctx}, %{op: "types", id: msg["id"], unknown: unknown})
    else
      {:error, why, s} -> reply(s, %{op: "types", id: msg["id"], error: why})
    end
  end

  # ------------------------------------------------------------ instances

  defp message("begin", msg, s) do
    %{"id" => id, "aggregate" => type} = msg
    inst = %Inst{id: id, type: type, stream_uuid: msg["stream_uuid"]}

    case aggregate(s, type) do
      {:ok, module, s} ->
        inst = %Inst{inst | module: module}

        start =
          case msg["start"] do
            "state" -> Fold.start_state(s.ctx, type, Base.decode64!(msg["state_raw"] || ""))
            _initial -> {:ok, struct(module)}
          end

        case start do
          {:ok, state} -> %{s | inst: %Inst{inst | state: state}}
          {:error, kind, why} -> fail(%{s | inst: inst}, kind, why, nil)
        end

      {:error, why, s} ->
        fail(%{s | inst: inst}, "error", why, nil)
    end
  end

  defp message("event", _msg, %{inst: nil} = s), do: s
  defp message("event", _msg, %{inst: %Inst{failed: true}} = s), do: s

  defp message("event", msg, %{inst: inst, ctx: ctx} = s) do
    case Fold.apply_event(ctx, inst.module, inst.state, inst.stream_uuid, msg) do
      {:ok, state, ctx} ->
        %{s | ctx: ctx, inst: %Inst{inst | state: state}}

      {:error, kind, why, ctx} ->
        fail(%{s | ctx: ctx}, kind, why, msg)
    end
  end

  defp message("end", %{"id" => id}, %{inst: %Inst{id: id, failed: false} = inst} = s) do
    s = %{s | inst: nil}

    case Fold.encode(s.ctx, inst.state) do
      {:ok, bytes} -> reply(s, %{op: "state", id: id, state_raw: Base.encode64(bytes)})
      {:error, kind, why} -> reply(s, error(id, kind, why, nil))
    end
  end

  defp message(op, _msg, s) when op in ["end", "abort"], do: %{s | inst: nil}

  defp message(_op, _msg, s), do: s

  defp raw(nil), do: nil
  defp raw(b64) when is_binary(b64), do: Base.decode64!(b64)

  # A base64 member's value at the start of `rest`: {:ok, bytes or nil, after}.
  # Base64 text holds no quote or backslash, so the next quote ends it.
  defp raw_member(<<"null", rest::binary>>), do: {:ok, nil, rest}

  defp raw_member(<<?", rest::binary>>) do
    with [b64, rest] <- :binary.split(rest, "\""),
         {:ok, bytes} <- Base.decode64(b64),
         do: {:ok, bytes, rest}
  end

  defp raw_member(_), do: :error


  # ------------------------------------------------------------ helpers

  # The module of aggregate type `type`, cached.
  defp aggregate(%{aggs: aggs} = s, type) do
    case aggs do
      %{^type => module} ->
        {:ok, module, s}

      _ ->
        case aggregate_module(type) do
          {:ok, module} -> {:ok, module, %{s | aggs: Map.put(aggs, type, module)}}
          {:error, why} -> {:error, why, s}
        end
    end
  end

  defp aggregate_module(type) when is_binary(type) do
    %{__struct__: module} = Commanded.EventStore.TypeProvider.to_struct(type)

    if function_exported?(module, :apply, 2),
      do: {:ok, module},
      else: {:error, "#{inspect(module)} has no apply/2: not an aggregate"}
  rescue
    e -> {:error, "aggregate type #{type}: " <> App.first_line(e)}
  end

  defp aggregate_module(_), do: {:error, "no aggregate type"}

  defp hello_aggregates(asked, app, s) do
    snapshotted =
      for m <- App.snapshotted(app), function_exported?(m, :apply, 2),
          do: Commanded.EventStore.TypeProvider.to_string(struct(m))

    types = Enum.uniq(List.wrap(asked) ++ snapshotted)

    Enum.reduce(types, {%{}, s}, fn type, {acc, s} ->
      case aggregate(s, type) do
        {:ok, module, s} ->
          {Map.put(acc, type, describe(app, module, type == asked)), s}

        {:error, why, s} ->
          IO.puts(:standard_error, "snapmig_commanded: #{why}")
          {acc, s}
      end
    end)
  end

  # The fingerprint (a few hundred milliseconds of reading compiled code)
  # only for the aggregate snapmig asked for: the only one it reads.
  defp describe(app, module, asked?) do
    opts = App.snapshot_options(app, module)
    snapshotting = Commanded.Snapshotting.new(app.name, "", opts)
    provider = Commanded.EventStore.TypeProvider.type_provider()
    info = %{events: "any", snapshot_version: snapshotting.snapshot_module_version}

    if asked?,
      do: Map.put(info, :fingerprint, Fingerprint.compute(module, [app.serializer, provider, app.json], @version)),
      else: info
  end

  defp fail(%{inst: inst} = s, kind, why, ev) do
    s = %{s | inst: %Inst{inst | failed: true}}
    reply(s, error(inst.id, kind, why, ev))
  end

  defp error(id, kind, why, nil), do: %{op: "error", id: id, kind: kind, message: why}

  defp error(id, kind, why, ev),
    do: Map.merge(error(id, kind, why, nil), %{version: ev["version"], event_type: ev["type"]})

  defp refuse(s, why) do
    IO.puts(:standard_error, "snapmig_commanded: " <> why)
    reply(s, %{op: "error", kind: "error", message: why})
  end

  defp reply(s, msg) do
    Stdio.write(s.io, Jason.encode_to_iodata!(msg))
    s
  end
end
