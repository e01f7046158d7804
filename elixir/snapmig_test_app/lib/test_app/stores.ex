defmodule TestApp.Stores do
  @moduledoc """
  The test's event stores: three flavours, each in its own database, as
  applications run them in production:

    * `bytea`  - bytea columns, `Commanded.Serialization.JsonSerializer`
      (EventStore's default layout with Commanded's serializer);
    * `jsonb`  - jsonb columns, `EventStore.JsonbSerializer`;
    * `double` - jsonb columns with Commanded's JSON-text serializer, so
      each value is a jsonb string holding JSON text.

  Per flavour three EventStore modules share the database: `Source`
  (schema public, the store the application writes and snapmig reads),
  `Expected` (schema expected: snapshots recorded by Commanded itself from
  the states it loads) and `Target` (schema migration: snapmig's output,
  read back through EventStore).

  The connection comes from the environment of tests/with-pg: PGHOST (the
  socket directory), PGUSER; the database is `snapmig_cmd_<flavour>`.
  """

  @flavours [
    {Bytea, "bytea", Commanded.Serialization.JsonSerializer},
    {Jsonb, "jsonb", EventStore.JsonbSerializer},
    {Double, "jsonb", Commanded.Serialization.JsonSerializer}
  ]

  @doc "[{flavour name, source store, expected store, target store}]"
  def flavours do
    for {name, _, _} <- @flavours do
      flavour = name |> Module.split() |> List.last() |> String.downcase()
      {flavour, Module.concat([__MODULE__, name, Source]), Module.concat([__MODULE__, name, Expected]),
       Module.concat([__MODULE__, name, Target])}
    end
  end

  @doc "The database of a flavour."
  def database(flavour), do: "snapmig_cmd_" <> flavour

  for {name, column, serializer} <- @flavours,
      {role, schema} <- [{Source, "public"}, {Expected, "expected"}, {Target, "migration"}] do
    flavour = name |> Module.split() |> List.last() |> String.downcase()

    defmodule Module.concat([__MODULE__, name, role]) do
      @moduledoc false
      use EventStore,
        otp_app: :snapmig_test_app,
        schema: schema,
        column_data_type: column,
        serializer: serializer,
        types: EventStore.PostgresTypes

      @database "snapmig_cmd_" <> flavour

      def init(config) do
        {:ok,
         Keyword.merge(config,
           socket_dir: System.get_env("PGHOST"),
           username: System.get_env("PGUSER", "postgres"),
           database: @database,
           pool_size: 2
         )}
      end
    end
  end
end
