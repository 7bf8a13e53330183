namespace MlNetBert.Checkpoints;

/// <summary>
/// A resolved pretrained checkpoint: a HuggingFace-layout folder (<c>config.json</c>, <c>vocab.txt</c>,
/// <c>model.safetensors</c>) and what MlNetBert knows about it.
/// </summary>
public sealed record Checkpoint(string Name, string Folder, BertConfig Config, bool LowerCase, string Sha256)
{
    public string ConfigPath => Path.Combine(Folder, "config.json");

    public string VocabPath => Path.Combine(Folder, "vocab.txt");

    public string WeightsPath => Path.Combine(Folder, "model.safetensors");

    /// <summary>Reads the weights with HuggingFace names, checked against the config (names and shapes).</summary>
    public Dictionary<string, TensorData> LoadTensors()
    {
        var raw = Safetensors.Read(WeightsPath);
        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (name, tensor) in raw)
        {
            string canonical = CanonicalName(name);
            tensors[canonical] = tensor with { Name = canonical };
        }
        CheckpointValidation.Check(Config, tensors, WeightsPath);
        return tensors;
    }

    /// <summary>Creates the tokenizer that matches this checkpoint's vocabulary and casing.</summary>
    public Tokenization.BertTextEncoder CreateEncoder() => Tokenization.BertTextEncoder.FromVocabFile(VocabPath, LowerCase);

    // BertForX checkpoints prefix the encoder with "bert."; TF-era ones call LayerNorm parameters gamma/beta.
    private static string CanonicalName(string name)
    {
        if (name.StartsWith("bert.", StringComparison.Ordinal))
            name = name["bert.".Length..];
        if (name.EndsWith(".gamma", StringComparison.Ordinal))
            name = name[..^".gamma".Length] + ".weight";
        else if (name.EndsWith(".beta", StringComparison.Ordinal))
            name = name[..^".beta".Length] + ".bias";
        return name;
    }
}
