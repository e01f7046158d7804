defmodule SnapmigTestApp.MixProject do
  use Mix.Project

  # The Commanded application of snapmig's own tests and benchmark (see
  # README.md beside this file).  Like any application that uses the
  # bridge, it has snapmig_commanded as a dependency.  Everything else is
  # the real Commanded, EventStore and adapter, from the offline copies in
  # shared/elixir-deps beside the checkout, or $SNAPMIG_ELIXIR_DEPS.
  def project do
    [
      app: :snapmig_test_app,
      version: "0.1.0",
      elixir: "~> 1.12",
      deps: deps()
    ]
  end

  def application, do: [mod: {TestApp.Boot, []}, extra_applications: [:logger, :crypto]]

  @libs ~w(commanded jason telemetry telemetry_registry backoff eventstore
           commanded_eventstore_adapter postgrex db_connection connection
           decimal gen_stage fsm)a

  defp deps do
    dir =
      System.get_env("SNAPMIG_ELIXIR_DEPS") ||
        Path.expand("../../../shared/elixir-deps", __DIR__)

    [{:snapmig_commanded, path: "../snapmig_commanded"}] ++
      for name <- @libs, do: {name, path: Path.join(dir, Atom.to_string(name)), override: true}
  end
end
