defmodule TestApp.Router do
  @moduledoc false
  use Commanded.Commands.Router

  dispatch TestApp.Counter.Emit, to: TestApp.Counter, identity: :id
  dispatch TestApp.Ledger.Emit, to: TestApp.Ledger, identity: :id
  dispatch Domain.Account.Emit, to: Domain.Account, identity: :id
end

defmodule TestApp.Apps do
  @moduledoc """
  The Commanded applications, one per store flavour (`TestApp.Bytea`,
  `TestApp.Jsonb`, `TestApp.Double`: the bridge is told which one with
  `--application`), and for each an `...Expected` twin on the `expected`
  schema, through which Commanded records the snapshots the tests expect.

  Snapshots every 5 events (Account: 10).  The snapshot versions come from
  the application's own `init/1`: 1, or SNAPMIG_TEST_COUNTER_VERSION and
  SNAPMIG_TEST_LEDGER_VERSION, so that a test can bump one as a deploy
  would, and the bridge must report what `init/1` says.
  """

  @snapshotting %{
    TestApp.Counter => [snapshot_every: 5, snapshot_version: 1],
    TestApp.Ledger => [snapshot_every: 5, snapshot_version: 1],
    Domain.Account => [snapshot_every: 10, snapshot_version: 2]
  }

  @doc "The snapshotting configuration after the environment's version bumps."
  def snapshotting do
    bump = fn map, module, var ->
      case System.get_env(var) do
        nil -> map
        v -> Map.update!(map, module, &Keyword.put(&1, :snapshot_version, String.to_integer(v)))
      end
    end

    @snapshotting
    |> bump.(TestApp.Counter, "SNAPMIG_TEST_COUNTER_VERSION")
    |> bump.(TestApp.Ledger, "SNAPMIG_TEST_LEDGER_VERSION")
  end

  @doc "[{flavour, application, expected application}]"
  def all do
    for {flavour, _, _, _} <- TestApp.Stores.flavours() do
      name = Macro.camelize(flavour)
      {flavour, Module.concat(TestApp, name), Module.concat([TestApp, name, Expected])}
    end
  end

  for {flavour, source, expected, _target} <- TestApp.Stores.flavours(),
      {app, store} <- [{Module.concat(TestApp, Macro.camelize(flavour)), source},
                       {Module.concat([TestApp, Macro.camelize(flavour), Expected]), expected}] do
    defmodule app do
      @moduledoc false
      use Commanded.Application,
        otp_app: :snapmig_test_app,
        event_store: [adapter: Commanded.EventStore.Adapters.EventStore, event_store: store],
        pubsub: :local,
        registry: :local

      router(TestApp.Router)

      def init(config), do: {:ok, Keyword.put(config, :snapshotting, TestApp.Apps.snapshotting())}
    end
  end
end
