using System.Text.Json;
using MlNetBert.Inference;
using MlNetBert.Runs;

namespace MlNetBert.Dashboard;

/// <summary>
/// The runs' <c>model.onnx</c> files the try-it box has loaded, kept open for the next question. A file replaced on
/// disk (a newer write time) is loaded again; at most <see cref="Capacity"/> stay open, the least recently used is
/// closed first.
/// </summary>
internal sealed class TryItModels : IDisposable
{
    public const int Capacity = 4;
    private readonly Dictionary<string, Entry> _models = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    private sealed class Entry(BertOnnxModel model, DateTime written)
    {
        public BertOnnxModel Model { get; } = model;
        public DateTime Written { get; } = written;
        public long LastUsed { get; set; }
        public int Users { get; set; }
    }

    /// <summary>Runs <paramref name="use"/> with the run's model, loading it if needed.</summary>
    /// <exception cref="BadInputException">The run has no model.onnx, or the file is not a readable MlNetBert model.</exception>
    public T With<T>(RunFolder run, Func<BertOnnxModel, T> use)
    {
        string path = run.ModelOnnx;
        if (!File.Exists(path))
            throw new BadInputException("this run has no model.onnx (trained with --no-export, or not finished): try-it answers with the exported model");
        DateTime written = File.GetLastWriteTimeUtc(path);
        Entry entry;
        lock (_lock)
        {
            if (!_models.TryGetValue(path, out entry!) || entry.Written != written)
            {
                if (entry is not null)
                    Close(path, entry);
                entry = new Entry(Load(path), written);
                _models[path] = entry;
                while (_models.Count > Capacity && _models.Where(kv => kv.Value.Users == 0 && kv.Key != path).MinBy(kv => kv.Value.LastUsed) is { Key: not null } old)
                    Close(old.Key, old.Value);
            }
            entry.LastUsed = Environment.TickCount64;
            entry.Users++;
        }
        try
        {
            return use(entry.Model);
        }
        finally
        {
            lock (_lock)
                entry.Users--;
        }
    }

    /// <summary>Predicts one input with the run's model: the task's own output shape (what the server answers) and its console line.</summary>
    public TryItAnswer Predict(RunFolder run, string text, string? text2) => With(run, model =>
    {
        var task = model.TaskDefinition;
        if (task.ReadsPair && string.IsNullOrEmpty(text2))
            throw new BadInputException($"'text2' is required: this {task.Name} model reads two texts ({model.Card.TextColumn}, {model.Card.Text2Column})");
        var prediction = model.Predict(text, task.ReadsPair ? text2 : null);
        var output = task.ToOutput(prediction, model.Card);
        return new TryItAnswer(task.Name, JsonSerializer.SerializeToElement<PredictionOutput>(output, InferenceTask.OutputJson), task.Describe(prediction, model.Card));
    });

    private static BertOnnxModel Load(string path)
    {
        try
        {
            return BertOnnxModel.Load(path, new BertOnnxOptions { IntraOpThreads = 1 });
        }
        catch (Exception e) when (e is not BadInputException and not OutOfMemoryException)
        {
            // A cut-off or foreign file: ONNX Runtime's own exception, which the page shows as the run's problem.
            throw new BadInputException($"model.onnx cannot be loaded ({e.Message.Split('\n')[0]})", e);
        }
    }

    private void Close(string path, Entry entry)
    {
        _models.Remove(path);
        if (entry.Users == 0)
            entry.Model.Dispose();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var entry in _models.Values)
                entry.Model.Dispose();
            _models.Clear();
        }
    }
}

/// <summary>What the try-it box shows.</summary>
/// <param name="Task">The model's task.</param>
/// <param name="Output">The prediction as the server and <c>predict --json</c> write it (label and probabilities, score, entities, answers, embedding).</param>
/// <param name="Line">The prediction as <c>mlnetbert predict</c> prints it.</param>
public sealed record TryItAnswer(string Task, JsonElement Output, string Line);
