defmodule Mix.Tasks.SnapmigTest.Seed do
  @shortdoc "Writes the test store of one flavour with Commanded itself"

  @moduledoc """
  `mix snapmig_test.seed FLAVOUR MANIFEST`: creates the EventStore of
  FLAVOUR (bytea, jsonb, double; see `TestApp.Stores`) and writes its
  events and snapshots through Commanded: commands dispatched to the
  aggregates (Commanded appends their events and takes a snapshot every 5
  events, with the snapshot versions of `TestApp.Apps`), and, for events
  an aggregate could never have produced (an unknown type, one whose
  `apply/2` raises), `Commanded.Event.Mapper.map_to_event_data/2` and
  `Commanded.EventStore.append_to_stream/4`, the path the aggregate's own
  events take.

  Every instance gets a snapshot (at event 5): snapmig knows a stream's
  aggregate type only from its snapshot.  MANIFEST gets the instances as
  JSON: stream uuid, aggregate type and
  what a rebuild must give: "ok" (the state Commanded loads, checked by
  `mix snapmig_test.verify`) or the failure (kind, version, event type).
  """
  use Mix.Task

  alias Commanded.Event.Mapper
  alias TestApp.Counter.Events.{Created, Incremented, Tagged, ItemAdded, Noted, Frozen, Exploded, Thrown, Exited, Halted}
  alias TestApp.Ledger.Events.{Opened, Posted, Closed}

  @impl Mix.Task
  def run([flavour, manifest]) do
    Mix.Task.run("app.config")
    {:ok, _} = Application.ensure_all_started(:snapmig_test_app)
    {^flavour, app, _expected} = List.keyfind(TestApp.Apps.all(), flavour, 0)
    {^flavour, store, _, _} = List.keyfind(TestApp.Stores.flavours(), flavour, 0)

    config = store.config()
    :ok = EventStore.Tasks.Create.exec(config, quiet: true) |> ok()
    :ok = EventStore.Tasks.Init.exec(config, quiet: true)
    {:ok, _} = app.start_link()

    {:ok, conn} = Postgrex.start_link(EventStore.Config.default_postgrex_opts(config))
    Process.put(:seed, {conn, config[:schema] || "public"})
    instances = counters(app, flavour) ++ ledgers(app, flavour)

    # Every aggregate process has taken its snapshots once it answers (those
    # of the failing instances, dead of their bad events, were awaited in
    # bad/6); every instance has one.
    for {uuid, module, expect} <- instances do
      if expect == "ok", do: await_snapshot(app, module, uuid), else: snapshot!(uuid)
    end

    File.write!(
      manifest,
      Jason.encode!(
        for {uuid, module, expect} <- instances,
            do: %{uuid: uuid, aggregate: inspect(module), expect: expect}
      )
    )

    Mix.shell().info("seeded #{length(instances)} instances into #{flavour}")
  end

  defp ok(_), do: :ok

  # -------------------------------------------------------------- counters

  defp counters(app, flavour) do
    # jsonb (EventStore.JsonbSerializer) reads snapshot keys as existing
    # atoms: item ids that are atoms of TestApp.Catalog there.
    {i1, i2} = if flavour == "jsonb", do: {"quince", "medlar"}, else: {"item-1", "8c1b-item-2"}

    snap =
      for n <- 1..3 do
        uuid = "counter-snap-#{n}"

        emit(app, uuid, [
          %Created{id: uuid},
          %Incremented{id: uuid, by: n},
          %ItemAdded{id: uuid, item_id: i1, qty: 3},
          %Tagged{id: uuid, tag: "t#{n}"},
          %Noted{id: uuid, text: "before the snapshot"}
        ])

        # After the snapshot at 5: the items map comes back from it.  The
        # last increment is beyond 64 bits: it must reach apply/2 as stored
        # (raw mode), not as a re-encoded double or a clamped integer.
        emit(app, uuid, [
          %ItemAdded{id: uuid, item_id: i1, qty: 4},
          %ItemAdded{id: uuid, item_id: i2, qty: 1},
          %Noted{id: uuid, text: "after the snapshot"},
          %Incremented{id: uuid, by: 18_446_744_073_709_551_616 + n}
        ])

        {uuid, TestApp.Counter, "ok"}
      end

    # Each failure's kind, and what its message must say: the first line of
    # the exception (or of the throw or exit).
    clause = "(FunctionClauseError) no function clause matching in TestApp.Counter.apply/2"

    failing = [
      bad(app, "counter-gone", base(), {"Elixir.TestApp.Gone", %{"id" => 1}}, [%Incremented{by: 2}],
          {"unknown_event", "no module Elixir.TestApp.Gone in the application"}),
      bad(app, "counter-archived", base(), %TestApp.Counter.Events.Archived{}, [],
          {"unknown_event", clause}),
      bad(app, "counter-frozen", base(4) ++ [%Frozen{}], %Incremented{by: 1}, [], {"no_match", clause}),
      bad(app, "counter-exploded", base(), %Exploded{reason: "on purpose"}, [],
          {"reducer_error", "(RuntimeError) counter exploded: on purpose"}),
      bad(app, "counter-thrown", base(), %Thrown{}, [%Incremented{by: 1}],
          {"reducer_error", "(throw) :counter_thrown"}),
      bad(app, "counter-exited", base(), %Exited{}, [], {"reducer_error", "(exit) :counter_exited"}),
      bad(app, "counter-not-a-struct", base(), {"Elixir.TestApp.NotAStruct", %{"x" => 1}}, [],
          {"reducer_error", "Elixir.TestApp.NotAStruct is a module but not a struct"}),
      # Commanded loads it; only a bridge run with SNAPMIG_TEST_KILL=1 dies
      # on it (verify --killed).
      bad(app, "counter-halted", base(), %Halted{}, [%Incremented{by: 1}], "ok")
    ]

    after_ =
      for n <- 1..4 do
        uuid = "counter-after-#{n}"
        emit(app, uuid, Enum.map(base(), &Map.put(&1, :id, uuid)) ++ [%Tagged{id: uuid, tag: "z"}])
        {uuid, TestApp.Counter, "ok"}
      end

    ids =
      if flavour == "jsonb" do
        # A snapshot whose item id is no atom: JsonbSerializer cannot read
        # it back, in Commanded as in the bridge.
        uuid = "counter-uuid-keys"

        emit(app, uuid, [%Created{id: uuid}] ++
          for(n <- 1..4, do: %ItemAdded{id: uuid, item_id: "9f5e-#{uuid}-#{n}", qty: n}))

        emit(app, uuid, [%Incremented{id: uuid, by: 1}])
        [{uuid, TestApp.Counter, %{kind: "reducer_error", version: nil, type: nil}}]
      else
        []
      end

    snap ++ failing ++ after_ ++ ids
  end

  # What every instance starts with: snapmig rebuilds the aggregates that
  # have a snapshot (the store says nothing else of a stream's type), and
  # Commanded takes the first one at event 5.
  defp base(increments \\ 4),
    do: [%Created{}] ++ for(k <- 1..increments, do: %Incremented{by: k})

  # Events dispatched, then one appended as no command could (a type
  # without a module, an event apply/2 refuses or raises on), then more.
  defp bad(app, uuid, before, bad_event, rest, kind) do
    emit(app, uuid, Enum.map(before, &Map.put(&1, :id, uuid)))
    version = length(before)
    # Before the aggregate process dies of the events below.
    await_snapshot(app, TestApp.Counter, uuid)

    bad_data =
      case bad_event do
        {type, data} ->
          %Commanded.EventStore.EventData{event_type: type, data: data, metadata: %{"user" => "x"}}

        %{} = event ->
          event |> Map.put(:id, uuid) |> Mapper.map_to_event_data(metadata: %{"user" => "x"})
      end

    rest_data = Mapper.map_to_event_data(Enum.map(rest, &Map.put(&1, :id, uuid)), metadata: %{})
    :ok = Commanded.EventStore.append_to_stream(app, uuid, version, [bad_data | rest_data])

    expect =
      case kind do
        "ok" -> "ok"
        {kind, message} -> %{kind: kind, version: version + 1, type: bad_data.event_type, message: message}
      end

    {uuid, TestApp.Counter, expect}
  end

  # -------------------------------------------------------------- ledgers

  defp ledgers(_app, "jsonb"), do: []

  defp ledgers(app, _flavour) do
    full =
      for n <- 1..3 do
        uuid = "ledger-#{n}"

        emit(app, uuid, [
          %Opened{id: uuid, currency: "EUR", owner: "owner #{n}", opened_at: date("2025-12-30T10:00:0#{n}")}
        ] ++ for(k <- 1..4, do: posted(uuid, k)))

        emit(app, uuid, [posted(uuid, 5), posted(uuid, 6), %Closed{id: uuid}])
        {uuid, TestApp.Ledger, "ok"}
      end

    open = "ledger-open"
    emit(app, open, [%Opened{id: open, currency: "CHF", owner: "o", opened_at: date("2026-02-01T00:00:00")}] ++
                      for(k <- 1..5, do: posted(open, k)))

    full ++ [{open, TestApp.Ledger, "ok"}]
  end

  defp posted(uuid, k) do
    %Posted{
      id: uuid,
      amount: 100 * k + 7,
      account: Enum.at(~w(cash bank card), rem(k, 3)),
      at: date("202#{5 + div(k, 3)}-0#{rem(k, 9) + 1}-1#{k}T08:30:00.12345#{k}")
    }
  end

  # The aggregate builds its events with dates; they are stored as ISO 8601
  # text and parsed back by the events' JsonDecoders.
  defp date(text), do: NaiveDateTime.from_iso8601!(text)

  # -------------------------------------------------------------- dispatch

  # Commanded takes a snapshot after it has replied (a cast the aggregate
  # sends itself), and only logs one it could not write ("snapshot failed
  # due to", e.g. a pool checkout dropped on a loaded machine); it tries
  # again at the aggregate's next command, which an instance whose last
  # events are appended directly never gets.  snapmig rebuilds only the
  # instances that have a snapshot, so each must have one: asked for again
  # while the aggregate process lives, else the seed fails.
  defp await_snapshot(app, module, uuid, tries \\ 10) do
    # Answered once the aggregate has handled the casts sent before.
    _ = app.aggregate_state(module, uuid, 60_000)

    cond do
      snapshot?(uuid) ->
        :ok

      tries > 1 ->
        Mix.shell().info("no snapshot of #{uuid} yet: asking its aggregate again")
        :ok = Commanded.Aggregates.Aggregate.take_snapshot(app, module, uuid)
        await_snapshot(app, module, uuid, tries - 1)

      true ->
        snapshot!(uuid)
    end
  end

  defp snapshot!(uuid), do: snapshot?(uuid) || Mix.raise("Commanded recorded no snapshot of #{uuid}")

  defp snapshot?(uuid) do
    {conn, schema} = Process.get(:seed)
    Postgrex.query!(conn, "SELECT 1 FROM #{schema}.snapshots WHERE source_uuid = $1", [uuid]).rows != []
  end

  # One command per event, so that snapshots fall every 5 events.
  defp emit(app, uuid, events) do
    for {event, n} <- Enum.with_index(events) do
      command =
        case event do
          %{__struct__: m} when m in [Opened, Posted, Closed] -> %TestApp.Ledger.Emit{id: uuid, events: [event]}
          _ -> %TestApp.Counter.Emit{id: uuid, events: [event]}
        end

      # Commanded's default of 5 s is too short on a loaded machine
      # (aggregate_execution_timeout while the first process starts).
      :ok =
        app.dispatch(command,
          metadata: %{"user" => Enum.at(~w(alice bob), rem(n, 2))},
          timeout: 60_000
        )
    end
  end
end
