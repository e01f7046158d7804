defmodule SnapmigCommanded.Fold do
  @moduledoc """
  Folding one instance exactly as Commanded loads an aggregate
  (`Commanded.Aggregates.AggregateStateBuilder.populate/1` through the
  EventStore adapter), and encoding its state exactly as Commanded records
  a snapshot (`Commanded.Snapshotting.take_snapshot/3`).

  Bytes in, bytes out: snapmig sends the stored columns as they are (raw
  mode), and gets back the bytes to store.

    * A column holds what Postgrex hands EventStore: a `bytea` column its
      bytes, a `jsonb` column the value decoded by the JSON library from
      PostgreSQL's text of it (`Postgrex.Extensions.JSONB`).
    * A start snapshot is `serializer.deserialize(data, type: aggregate
      type)` (`EventStore.Snapshots.SnapshotData.deserialize/2`; snapmig
      only starts from snapshots of the aggregate's own `source_type`).
    * An event is `EventStore.RecordedEvent.deserialize/2` (data with
      `type: event_type`, metadata with `[]`), mapped by the adapter's
      `Mapper.from_recorded_event/1`, upcast by
      `Commanded.Event.Upcast.upcast_event/2` with
      `additional_metadata: %{application: name}` as
      `Commanded.EventStore.stream_forward/4` does, and applied with the
      aggregate's own `apply/2`.  When the event's struct has no upcaster
      but the default one (which returns the event unchanged) the
      upcast is skipped: its result would be the event itself.
    * The final state is `serializer.serialize(state)`
      (`EventStore.Snapshots.SnapshotData.serialize/2`) as Postgrex encodes
      it: for `bytea` those bytes (Postgrex refuses anything but a binary),
      for `jsonb` the JSON library's `encode_to_iodata!/1` of it.

  Failures come back as `{:error, kind, message}` with kind
  `"unknown_event"`, `"no_match"` or `"error"`; the message is the first
  line of the exception, and the exception with the top of its stack trace
  goes to stderr (snapmig shows those lines with the failure).
  """

  alias SnapmigCommanded.{App, Clauses}

  @compile {:no_warn_undefined,
            [EventStore.RecordedEvent, Commanded.EventStore.Adapters.EventStore.Mapper]}

  @es_event EventStore.RecordedEvent
  @mapper Commanded.EventStore.Adapters.EventStore.Mapper

  defmodule Ctx do
    @moduledoc false
    # app: App.t; data/metadata: the column types of the source store;
    # types: event type => :ok | {:error, kind, message};
    # upcast: struct module => whether it has an upcaster of its own;
    # heads: aggregate module => its apply/2 heads.
    defstruct [:app, :data, :metadata, :es, :mapper, types: %{}, upcast: %{}, heads: %{}]
  end

  @doc "A context for folding with `app` on a store with these column types."
  @spec context(App.t(), String.t(), String.t()) :: %Ctx{}
  def context(app, data_type, metadata_type) do
    %Ctx{
      app: app,
      data: data_type,
      metadata: metadata_type,
      es: Code.ensure_loaded?(@es_event),
      mapper: Code.ensure_loaded?(@mapper)
    }
  end

  # ------------------------------------------------------------ columns

  defp column(nil, _type, _json), do: nil
  defp column(bytes, "jsonb", json), do: json.decode!(bytes)
  defp column(bytes, _bytea, _json), do: bytes

  # ------------------------------------------------------------ start

  @doc "The start state from a snapshot's stored data."
  def start_state(%Ctx{app: app} = ctx, aggregate_type, bytes) do
    data = column(bytes, ctx.data, app.json)
    {:ok, app.serializer.deserialize(data, type: aggregate_type)}
  rescue
    e -> failed("error", nil, "the start snapshot: ", e, __STACKTRACE__)
  catch
    kind, reason -> failed_catch(kind, reason, nil, "the start snapshot: ", __STACKTRACE__)
  end

  # ------------------------------------------------------------ events

  @doc """
  Applies one event.  `ev` is the protocol's event message with data and
  metadata already base64-decoded.  Returns `{:ok, state, ctx}` or
  `{:error, kind, message, ctx}`.
  """
  def apply_event(%Ctx{} = ctx, module, state, stream_uuid, ev) do
    case event_type(ctx, ev["type"]) do
      {:ok, ctx} -> decode_apply(ctx, module, state, stream_uuid, ev)
      {{:error, kind, message}, ctx} -> {:error, kind, message, ctx}
    end
  end

  defp decode_apply(ctx, module, state, stream_uuid, ev) do
    {data, ctx} = decode_event(ctx, stream_uuid, ev)
    apply_to(ctx, module, state, data, ev)
  rescue
    e ->
      {:error, kind, message} = failed("error", ev, "", e, __STACKTRACE__)
      {:error, kind, message, ctx}
  catch
    kind, reason ->
      {:error, kind, message} = failed_catch(kind, reason, ev, "", __STACKTRACE__)
      {:error, kind, message, ctx}
  end

  # What EventStore, the adapter and Commanded make of the stored event.
  defp decode_event(%Ctx{app: app} = ctx, stream_uuid, ev) do
    %{"type" => type, "version" => version} = ev
    serializer = app.serializer
    data = column(ev["data_raw"], ctx.data, app.json)
    metadata = column(ev["metadata_raw"], ctx.metadata, app.json)

    recorded = %{
      event_number: ev["event_number"] || version,
      event_id: ev["event_id"],
      stream_uuid: stream_uuid,
      stream_version: version,
      correlation_id: ev["correlation_id"],
      causation_id: ev["causation_id"],
      event_type: type,
      data: data,
      metadata: metadata,
      created_at: nil
    }

    recorded =
      if ctx.es do
        @es_event.deserialize(struct(@es_event, recorded), serializer)
      else
        %{
          recorded
          | data: serializer.deserialize(data, type: type),
            metadata: serializer.deserialize(metadata, [])
        }
      end

    {own, ctx} = own_upcaster?(ctx, recorded.data)

    if own do
      recorded = %{recorded | created_at: created_at(ev["created_at"])}

      event =
        if ctx.mapper,
          do: @mapper.from_recorded_event(recorded),
          else: struct(Commanded.EventStore.RecordedEvent, commanded_fields(recorded))

      upcast = Commanded.Event.Upcast.upcast_event(event, additional_metadata: %{application: app.name})
      {upcast.data, ctx}
    else
      {recorded.data, ctx}
    end
  end

  defp commanded_fields(recorded) do
    recorded
    |> Map.take([:event_id, :event_number, :stream_version, :correlation_id, :causation_id,
                 :event_type, :data, :metadata, :created_at])
    |> Map.put(:stream_id, recorded.stream_uuid)
  end

  # As Postgrex decodes timestamptz: a DateTime in UTC with microseconds.
  defp created_at(nil), do: nil

  defp created_at(text) do
    {:ok, dt, 0} = DateTime.from_iso8601(text)
    dt
  end

  defp own_upcaster?(%Ctx{upcast: cache} = ctx, %{__struct__: m} = data) do
    case cache do
      %{^m => own} ->
        {own, ctx}

      _ ->
        own = own_upcaster?(data)
        {own, %{ctx | upcast: Map.put(cache, m, own)}}
    end
  end

  defp own_upcaster?(ctx, data), do: {own_upcaster?(data), ctx}

  defp own_upcaster?(data),
    do: Commanded.Event.Upcaster.impl_for(data) != Commanded.Event.Upcaster.Any

  # A FunctionClauseError of apply/2 itself is unknown_event or no_match;
  # anything else (raised deeper down too) is left to decode_apply.
  defp apply_to(ctx, module, state, data, ev) do
    {:ok, module.apply(state, data), ctx}
  rescue
    e in FunctionClauseError ->
      if e.module == module and e.function == :apply and e.arity == 2 do
        {heads, ctx} = heads(ctx, module)
        kind = if Clauses.takes?(heads, data), do: "no_match", else: "unknown_event"
        {:error, kind, message} = failed(kind, ev, "", e, __STACKTRACE__)
        {:error, kind, message, ctx}
      else
        reraise e, __STACKTRACE__
      end
  end

  @doc "The apply/2 heads of module, cached in ctx."
  def heads(%Ctx{heads: cache} = ctx, module) do
    case cache do
      %{^module => h} ->
        {h, ctx}

      _ ->
        h = Clauses.event_heads(module)
        {h, %{ctx | heads: Map.put(cache, module, h)}}
    end
  end

  # ------------------------------------------------------------ types

  @doc """
  Whether the application has a struct for event type `type`, as the
  type provider resolves it (`String.to_existing_atom/1`, then `struct/1`
  for the default one).  `{:ok, ctx}` or `{{:error, kind, message}, ctx}`.
  """
  def event_type(%Ctx{types: cache} = ctx, type) do
    case cache do
      %{^type => :ok} ->
        {:ok, ctx}

      %{^type => error} ->
        {error, ctx}

      _ ->
        result = check_type(type)
        {result, %{ctx | types: Map.put(cache, type, result)}}
    end
  end

  defp check_type(type) do
    Commanded.EventStore.TypeProvider.to_struct(type)
    :ok
  rescue
    e in UndefinedFunctionError ->
      if e.function == :__struct__ and Code.ensure_loaded?(e.module),
        do: {:error, "error", "#{type} is a module but not a struct"},
        else: {:error, "unknown_event", "no module #{type} in the application"}

    ArgumentError ->
      {:error, "unknown_event",
       "no module #{type} in the application (not an already existing atom)"}

    e ->
      {:error, "error", "event type #{type}: " <> App.first_line(e)}
  end

  @doc """
  For the pre-flight: the error an event of `type` will certainly meet, or
  `:ok`.  Beyond `event_type/2`: an event whose struct has no upcaster and
  no JSON decoder of its own, read by one of the serializers that make a
  struct of the event type (Commanded's JsonSerializer, EventStore's
  JsonSerializer and JsonbSerializer), reaches `apply/2` as that struct;
  when no clause takes it, it is an unknown event.
  """
  def preflight(%Ctx{app: app} = ctx, module, type) do
    case event_type(ctx, type) do
      {:ok, ctx} ->
        struct = Commanded.EventStore.TypeProvider.to_struct(type)
        {heads, ctx} = heads(ctx, module)

        if known_serializer?(app.serializer) and
             Commanded.Event.Upcaster.impl_for(struct) == Commanded.Event.Upcaster.Any and
             Commanded.Serialization.JsonDecoder.impl_for(struct) ==
               Commanded.Serialization.JsonDecoder.Any and
             not Clauses.takes?(heads, struct) do
          {{:error, "unknown_event", "no apply/2 clause of #{inspect(module)} takes %#{inspect(struct.__struct__)}{}"}, ctx}
        else
          {:ok, ctx}
        end

      {error, ctx} ->
        {error, ctx}
    end
  end

  defp known_serializer?(s),
    do:
      s in [
        Commanded.Serialization.JsonSerializer,
        EventStore.JsonSerializer,
        EventStore.JsonbSerializer
      ]

  # ------------------------------------------------------------ end

  @doc "The bytes to store for `state`, or `{:error, kind, message}`."
  def encode(%Ctx{app: app} = ctx, state) do
    out = app.serializer.serialize(state)

    case ctx.data do
      "jsonb" ->
        {:ok, IO.iodata_to_binary(app.json.encode_to_iodata!(out))}

      _bytea when is_binary(out) ->
        {:ok, out}

      _bytea ->
        {:error, "error",
         "#{inspect(app.serializer)}.serialize/1 returned #{kind_of(out)}, " <>
           "not the binary a bytea column stores"}
    end
  rescue
    e -> failed("error", nil, "the snapshot: ", e, __STACKTRACE__)
  catch
    kind, reason -> failed_catch(kind, reason, nil, "the snapshot: ", __STACKTRACE__)
  end

  defp kind_of(%{__struct__: m}), do: "a %#{inspect(m)}{}"
  defp kind_of(m) when is_map(m), do: "a map"
  defp kind_of(_), do: "a term"

  # ------------------------------------------------------------ failures

  # ev: the event to blame (its version and type head the report), or nil.
  defp failed(kind, ev, what, exception, stacktrace) do
    report(Exception.format(:error, exception, Enum.take(stacktrace, 4)), ev)
    {:error, kind, what <> App.first_line(exception)}
  end

  defp failed_catch(kind, reason, ev, what, stacktrace) do
    report(Exception.format(kind, reason, Enum.take(stacktrace, 4)), ev)
    line = Exception.format_banner(kind, reason) |> String.split("\n", parts: 2) |> hd()
    {:error, "error", what <> String.trim_leading(line, "** ")}
  end

  defp report(text, nil), do: IO.write(:standard_error, text)

  defp report(text, ev),
    do: IO.write(:standard_error, ["event ", to_string(ev["version"]), " (", ev["type"], "): ", text])
end
