using Microsoft.Extensions.Logging;

namespace MlNetBert.Serving;

/// <summary>A served model with the runner its requests go through.</summary>
internal sealed record ModelEntry(ServedModel Served, IPredictionRunner Runner);

/// <summary>
/// Every model a server answers with, in <c>--model</c> order; the first is the default behind <c>/v1/predict</c>.
/// Owns them: disposing drains each runner's queue first, then frees the ONNX Runtime sessions.
/// </summary>
internal sealed class ServedModels : IAsyncDisposable, IDisposable
{
    private readonly Dictionary<string, ModelEntry> _byName;
    private bool _disposed;

    private ServedModels(IReadOnlyList<ModelEntry> all)
    {
        All = all;
        _byName = all.ToDictionary(e => e.Served.Name, StringComparer.Ordinal);
    }

    public IReadOnlyList<ModelEntry> All { get; }

    public ModelEntry Default => All[0];

    public ModelEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// Loads every model of <paramref name="options"/>; on a failure the ones already loaded are freed. Throws
    /// <see cref="BadInputException"/> for a missing or foreign file, and for two models under one name.
    /// </summary>
    public static List<ServedModel> Load(ServerOptions options, Action<string> log)
    {
        var loaded = new List<ServedModel>();
        try
        {
            foreach (var source in options.AllModels())
            {
                var served = ServedModel.Load(source, options, log);
                loaded.Add(served);
                if (loaded.Count(m => m.Name == served.Name) > 1)
                    throw new BadInputException($"two models are named '{served.Name}' ({source.Path}): name them apart with --model NAME=PATH");
            }
            return loaded;
        }
        catch
        {
            foreach (var served in loaded)
                served.Dispose();
            throw;
        }
    }

    /// <summary>Gives each loaded model its runner (micro-batching or one call per request, as <paramref name="options"/> say).</summary>
    public static ServedModels Start(IReadOnlyList<ServedModel> models, ServerOptions options, ServerMetrics metrics, ILogger logger) =>
        new([.. models.Select(m => new ModelEntry(m, options.Batching
            ? new MicroBatcher(m.Model, m.Name, options, metrics, logger)
            : new DirectRunner(m.Model, m.Name, metrics, options.MaxBatchSize)))]);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        foreach (var entry in All)
            await entry.Runner.DisposeAsync();
        foreach (var entry in All)
            entry.Served.Dispose();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
