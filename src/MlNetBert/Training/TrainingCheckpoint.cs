using System.Text.Json;
using MlNetBert.Checkpoints;
using MlNetBert.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>Where and how often training saves resumable state.</summary>
/// <param name="Directory">Folder holding the state (created; an existing state there is resumed).</param>
/// <param name="EverySteps">Also save every N optimizer steps; 0 saves only at epoch ends and on cancellation.</param>
public sealed record CheckpointSettings(string Directory, int EverySteps = 0);

/// <summary>Everything the loop needs to continue exactly where it stopped (weights and optimizer state are saved beside it).</summary>
internal sealed class TrainingState
{
    public int Epoch { get; set; } = 1;
    public int NextBatch { get; set; }
    public int Step { get; set; }
    public double EpochLossSum { get; set; }
    public int EpochLossCount { get; set; }
    public long SamplesSeen { get; set; }
    public long RealTokens { get; set; }
    public long PaddedTokens { get; set; }
    public double Best { get; set; } = double.NegativeInfinity;
    public int BestEpoch { get; set; }
    public int SinceBest { get; set; }
    public double SecondsBefore { get; set; }
    public List<EpochRecord> Epochs { get; set; } = [];
    public List<StepRecord> Steps { get; set; } = [];

    [System.Text.Json.Serialization.JsonIgnore]
    public Dictionary<string, Tensor>? BestWeights { get; set; }

    /// <summary>How many steps' weights <see cref="AverageWeights"/> holds.</summary>
    public int AverageCount { get; set; }

    [System.Text.Json.Serialization.JsonIgnore]
    public Dictionary<string, Tensor>? AverageWeights { get; set; }
}

/// <summary>
/// Saves and restores <see cref="TrainingState"/>, the network's weights, AdamW's moments and the sparse embedding
/// optimizer's moments in one folder. A save writes a new folder and swaps it in with renames, so a process killed
/// at any moment leaves either the previous complete state or the new one.
/// </summary>
internal sealed class TrainingCheckpoint
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
    private readonly string _directory;

    public TrainingCheckpoint(string directory) => _directory = Path.GetFullPath(directory);

    public bool Exists => File.Exists(Path.Combine(_directory, "state.json"));

    public void Save(TrainingState state, BertClassifier model, OptimizerHelper optimizer, SparseEmbeddingAdamW? sparse)
    {
        string parent = Path.GetDirectoryName(_directory)!;
        Directory.CreateDirectory(parent);
        string temp = _directory + ".saving";
        if (Directory.Exists(temp))
            Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        Safetensors.Write(Path.Combine(temp, "model.safetensors"), Tensors(model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))));
        optimizer.save_state_dict(Path.Combine(temp, "optimizer.bin"));
        if (sparse is not null)
            Safetensors.Write(Path.Combine(temp, "sparse.safetensors"), Tensors(sparse.State()));
        if (state.BestWeights is not null)
            Safetensors.Write(Path.Combine(temp, "best.safetensors"), Tensors(state.BestWeights.Select(kv => (kv.Key, kv.Value))));
        if (state.AverageWeights is not null)
            Safetensors.Write(Path.Combine(temp, "average.safetensors"), Tensors(state.AverageWeights.Select(kv => (kv.Key, kv.Value))));
        // state.json last inside the new folder: a folder without it is never trusted.
        AtomicFile.WriteAllText(Path.Combine(temp, "state.json"), JsonSerializer.Serialize(state, Json));
        string old = _directory + ".old";
        if (Directory.Exists(old))
            Directory.Delete(old, recursive: true);
        if (Directory.Exists(_directory))
            Directory.Move(_directory, old);
        Directory.Move(temp, _directory);
        if (Directory.Exists(old))
            Directory.Delete(old, recursive: true);
    }

    public TrainingState Load(BertClassifier model, OptimizerHelper optimizer, SparseEmbeddingAdamW? sparse)
    {
        var state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(Path.Combine(_directory, "state.json")), Json)
            ?? throw new BadInputException($"{_directory}: empty training state");
        var weights = Safetensors.Read(Path.Combine(_directory, "model.safetensors"));
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (!weights.TryGetValue(name, out var t))
                    throw new BadInputException($"{_directory}: saved state has no tensor '{name}' (was it saved by a different model?)");
                using var source = tensor(t.Data, t.Shape);
                p.copy_(source);
            }
        }
        optimizer.load_state_dict(Path.Combine(_directory, "optimizer.bin"));
        string sparsePath = Path.Combine(_directory, "sparse.safetensors");
        if (sparse is not null && File.Exists(sparsePath))
            sparse.Restore(Safetensors.Read(sparsePath));
        state.BestWeights = ReadWeights("best.safetensors");
        state.AverageWeights = ReadWeights("average.safetensors");
        return state;
    }

    /// <summary>A saved set of weights (best epoch, running average), or null when the run had none.</summary>
    private Dictionary<string, Tensor>? ReadWeights(string fileName)
    {
        string path = Path.Combine(_directory, fileName);
        return File.Exists(path)
            ? Safetensors.Read(path).ToDictionary(kv => kv.Key, kv => tensor(kv.Value.Data, kv.Value.Shape).DetachFromDisposeScope())
            : null;
    }

    private static IEnumerable<TensorData> Tensors(IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        foreach (var (name, t) in tensors)
        {
            using var cpu = t.detach().cpu().contiguous();
            yield return new TensorData(name, t.shape, cpu.data<float>().ToArray());
        }
    }
}
