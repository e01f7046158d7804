defmodule SnapmigCommanded.MixProject do
  use Mix.Project

  # snapmig_commanded: `mix snapmig.reducer`, snapmig's external reducer for
  # the aggregates of the Commanded application it is a dependency of.
  #
  # Its own dependencies are Commanded and Jason, which the application has
  # anyway.  Inside snapmig's repository (tests, bench), where no Hex
  # registry is reachable, they come from the offline copies in
  # shared/elixir-deps beside the checkout, or from $SNAPMIG_ELIXIR_DEPS.
  def project do
    [
      app: :snapmig_commanded,
      version: "0.1.0",
      elixir: "~> 1.12",
      deps: deps(),
      # Called only when the application has them (it needs EventStore
      # and the adapter to have a store snapmig can read).
      xref: [exclude: [EventStore.RecordedEvent, Commanded.EventStore.Adapters.EventStore.Mapper]],
      description: "snapmig's external reducer for Commanded applications"
    ]
  end

  def application, do: [extra_applications: [:logger]]

  defp deps do
    case offline_deps() do
      nil ->
        [{:commanded, "~> 1.4"}, {:jason, "~> 1.2"}]

      dir ->
        for name <- ~w(commanded jason telemetry telemetry_registry backoff)a,
            do: {name, path: Path.join(dir, Atom.to_string(name)), override: true}
    end
  end

  # The folder of offline dependencies, or nil outside snapmig's repository.
  defp offline_deps do
    dir =
      System.get_env("SNAPMIG_ELIXIR_DEPS") ||
        Path.expand("../../../shared/elixir-deps", __DIR__)

    if File.dir?(Path.join(dir, "commanded")), do: dir
  end
end
