namespace MlNetBert.Checkpoints;

/// <summary>Checks that a set of tensors is exactly what a <see cref="BertConfig"/> describes.</summary>
public static class CheckpointValidation
{
    /// <summary>Throws <see cref="BadInputException"/> naming the first missing tensor or the first tensor with a wrong shape.</summary>
    public static void Check(BertConfig config, IReadOnlyDictionary<string, TensorData> tensors, string source)
    {
        foreach (var (name, shape) in config.ExpectedTensors())
        {
            if (!tensors.TryGetValue(name, out var tensor))
                throw new BadInputException($"{source}: missing tensor '{name}' (expected shape [{string.Join(", ", shape)}] from config.json)");
            if (!tensor.Shape.SequenceEqual(shape))
                throw new BadInputException($"{source}: tensor '{name}' has shape {tensor.ShapeText}, expected [{string.Join(", ", shape)}] from config.json");
        }
    }
}
