defmodule Mix.Tasks.SnapmigTest.Verify do
  @shortdoc "Checks snapmig's snapshots against the states Commanded loads"

  @moduledoc """
  `mix snapmig_test.verify FLAVOUR MANIFEST FAILURES [--killed UUID]...`

  The ground truth is Commanded's own: for every instance of MANIFEST
  (written by `mix snapmig_test.seed`) this task loads the aggregate as
  Commanded does (`Commanded.Aggregates.AggregateStateBuilder.populate/1`
  with `Commanded.Snapshotting` configured as the application's `init/1`
  says, through the EventStore adapter, upcasters included) and records
  its snapshot with `Commanded.Snapshotting.take_snapshot/3` through the
  `...Expected` application into the `expected` schema.  Then, against
  snapmig's output in the `migration` schema:

    * an instance that Commanded loads must have a snapshot row with the
      same source_version, source_type and metadata, and data equal to
      Commanded's: byte for byte in a bytea store, jsonb-equal in a jsonb
      one, and, for every aggregate, equal as the term EventStore reads
      back from it (through the serializer and the JSON decoders; for the
      x_val Ledger that is the whole state);
    * an instance that Commanded cannot load (populate raises) must be in
      FAILURES (`snapmig failures --json`) with the manifest's kind,
      version and event type, and have no row; so must each --killed
      instance (its apply/2 kills the bridge's VM);
    * no other row may exist.

  Prints one line per problem and exits 1 when there is any.
  """
  use Mix.Task

  alias Commanded.Aggregates.{Aggregate, AggregateStateBuilder}
  alias Commanded.Snapshotting

  @impl Mix.Task
  def run([flavour, manifest, failures | rest]) do
    {opts, []} = OptionParser.parse!(rest, strict: [killed: :keep])
    killed = Keyword.get_values(opts, :killed)
    Mix.Task.run("app.config")
    load_all_modules()
    {:ok, _} = Application.ensure_all_started(:snapmig_test_app)
    {^flavour, app, expected_app} = List.keyfind(TestApp.Apps.all(), flavour, 0)
    {^flavour, _source, expected_store, target} = List.keyfind(TestApp.Stores.flavours(), flavour, 0)

    # The expected schema is Commanded's own, created afresh.
    {:ok, conn} = Postgrex.start_link(EventStore.Config.default_postgrex_opts(expected_store.config()))
    Postgrex.query!(conn, "DROP SCHEMA IF EXISTS expected CASCADE", [])
    :ok = EventStore.Tasks.Create.exec(expected_store.config(), quiet: true) |> then(fn _ -> :ok end)
    :ok = EventStore.Tasks.Init.exec(expected_store.config(), quiet: true)
    {:ok, _} = app.start_link()
    {:ok, _} = expected_app.start_link()
    {:ok, _} = target.start_link()

    instances = manifest |> File.read!() |> Jason.decode!()
    failed = failures |> File.read!() |> Jason.decode!() |> failures_by_uuid()

    problems =
      Enum.flat_map(instances, fn %{"uuid" => uuid, "aggregate" => agg} = inst ->
        module = Module.concat([agg])

        expect =
          cond do
            uuid in killed ->
              %{"kind" => "reducer_error", "killed" => true, "message" => "killed by signal 9"}
            true -> inst["expect"]
          end

        check(conn, app, expected_app, {target, expected_store}, module, uuid, expect, failed[uuid])
        |> Enum.map(&"#{uuid}: #{&1}")
      end)

    rows = Postgrex.query!(conn, "SELECT count(*) FROM migration.snapshots", []).rows
    ok = Enum.count(instances, &(&1["expect"] == "ok" and &1["uuid"] not in killed))

    problems =
      problems ++
        if rows == [[ok]], do: [], else: ["migration.snapshots has #{inspect(rows, charlists: :as_lists)} rows, expected #{ok}"]

    Enum.each(problems, &IO.puts("FAIL: " <> &1))
    IO.puts("verify #{flavour}: #{length(instances)} instances, #{length(problems)} problems")
    if problems != [], do: exit({:shutdown, 1})
  end

  defp failures_by_uuid(%{"failures" => list}), do: failures_by_uuid(list)

  defp failures_by_uuid(list) when is_list(list),
    do: Map.new(list, fn f -> {f["source_uuid"], f} end)

  # ------------------------------------------------------------ checks

  defp check(conn, app, expected_app, stores, module, uuid, expect, failure) do
    case {populate(app, module, uuid), expect} do
      {{:ok, version, state}, "ok"} ->
        {:ok, _} = record(expected_app, module, uuid, version, state)
        compare(conn, stores, module, uuid, state) ++ unfailed(failure)

      {{:ok, _, _}, %{"killed" => true} = f} ->
        # Its apply/2 killed the bridge's VM; Commanded itself loads it.
        failed_as(failure, f) ++ no_row(conn, uuid)

      {{:ok, _, _}, f} ->
        ["Commanded loads it, but the manifest expects #{inspect(f)}"]

      {{:error, why}, "ok"} ->
        ["Commanded cannot load it: #{why}"]

      {{:error, _why}, f} ->
        failed_as(failure, f) ++ no_row(conn, uuid)
    end
  end

  # The aggregate as Commanded loads it.
  defp populate(app, module, uuid) do
    opts = app.config() |> Keyword.get(:snapshotting, %{}) |> Map.get(module, [])

    aggregate =
      %Aggregate{
        application: app,
        aggregate_module: module,
        aggregate_uuid: uuid,
        snapshotting: Snapshotting.new(app, uuid, opts)
      }
      |> AggregateStateBuilder.populate()

    {:ok, aggregate.aggregate_version, aggregate.aggregate_state}
  rescue
    e -> {:error, Exception.message(e) |> String.split("\n") |> hd()}
  catch
    kind, reason -> {:error, Exception.format_banner(kind, reason)}
  end

  # Commanded records the snapshot of that state, as an aggregate does.
  defp record(expected_app, module, uuid, version, state) do
    opts = expected_app.config() |> Keyword.get(:snapshotting, %{}) |> Map.get(module, [])
    Snapshotting.take_snapshot(Snapshotting.new(expected_app, uuid, opts), version, state)
  end

  defp compare(conn, {target, expected_store}, module, uuid, state) do
    %{rows: rows} =
      Postgrex.query!(
        conn,
        """
        SELECT e.source_version = m.source_version, e.source_type = m.source_type,
               #{same("e.metadata", "m.metadata")}, e.data = m.data, #{same("e.data", "m.data")},
               pg_typeof(m.data)::text, m.source_version, e.source_version
        FROM expected.snapshots e LEFT JOIN migration.snapshots m USING (source_uuid)
        WHERE source_uuid = $1
        """,
        [uuid]
      )

    case rows do
      [[nil | _]] ->
        ["no snapshot from snapmig"]

      [[version, type, metadata, bytes, json, column, mv, ev]] ->
        [
          {version, "source_version #{mv}, Commanded's #{ev}"},
          {type, "source_type differs"},
          {metadata, "metadata differs"},
          {json, "data is not jsonb-equal to Commanded's"},
          {column != "bytea" or bytes, "data differs from Commanded's bytes"}
        ]
        |> Enum.reject(&elem(&1, 0))
        |> Enum.map(&elem(&1, 1))
        |> Kernel.++(same_term(target, expected_store, module, uuid, state))
    end
  end

  # As JSON, whatever the column: bytea holds JSON text, a double-encoded
  # jsonb value a JSON string holding it.
  defp same(a, b), do: "#{json(a)} = #{json(b)}"

  defp json(col) do
    "(CASE WHEN pg_typeof(#{col})::text = 'bytea' THEN convert_from(#{col}::text::bytea, 'UTF8')::jsonb " <>
      "WHEN jsonb_typeof(#{col}::text::jsonb) = 'string' THEN (#{col}::text::jsonb #>> '{}')::jsonb " <>
      "ELSE #{col}::text::jsonb END)"
  end

  # snapmig's row and Commanded's, each read back by EventStore as the
  # application reads a snapshot (serializer, JSON decoders).  For the
  # x_val Ledger that is the whole state, equal to the one Commanded loaded.
  defp same_term(target, expected_store, module, uuid, state) do
    with {:ok, %{data: got}} <- target.read_snapshot(uuid),
         {:ok, %{data: want}} <- expected_store.read_snapshot(uuid) do
      cond do
        got != want -> ["read back as #{inspect(got)}, Commanded's #{inspect(want)}"]
        module == TestApp.Ledger and want != state -> ["x_val does not round-trip: test broken"]
        true -> []
      end
    else
      other -> ["EventStore cannot read the snapshots back: #{inspect(other)}"]
    end
  end

  defp unfailed(nil), do: []
  defp unfailed(f), do: ["failed in snapmig: #{inspect(f)}"]

  defp failed_as(nil, f), do: ["not in snapmig's failures (expected #{inspect(f)})"]

  defp failed_as(got, f) do
    [
      {got["kind"] == f["kind"], "kind #{got["kind"]}, expected #{f["kind"]}"},
      {f["version"] == nil or got["stream_version"] == f["version"],
       "version #{got["stream_version"]}, expected #{f["version"]}"},
      {f["type"] == nil or got["event_type"] == f["type"], "event type #{got["event_type"]}, expected #{f["type"]}"},
      {f["message"] == nil or String.contains?(got["message"] || "", f["message"]),
       "message #{inspect(got["message"])}, expected the exception's first line #{inspect(f["message"])}"}
    ]
    |> Enum.reject(&elem(&1, 0))
    |> Enum.map(&elem(&1, 1))
  end

  defp no_row(conn, uuid) do
    case Postgrex.query!(conn, "SELECT 1 FROM migration.snapshots WHERE source_uuid = $1", [uuid]).rows do
      [] -> []
      _ -> ["has a snapshot row, but failed"]
    end
  end

  defp load_all_modules do
    for {app, _, _} <- Application.loaded_applications(),
        do: :code.ensure_modules_loaded(Application.spec(app, :modules) || [])
  end
end
