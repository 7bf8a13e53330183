using System.CommandLine;
using MlNetBert.Checkpoints;
using MlNetBert.Modeling;
using static TorchSharp.torch;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert embed</c>: sentence embeddings (mean pooling) from a pretrained checkpoint, and their cosine similarities.</summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var text = new Option<string[]>("--text") { Description = "A sentence to embed (repeat for several).", Required = true, AllowMultipleArgumentsPerToken = false };
        var model = new Option<string>("--model") { Description = "Checkpoint: minilm-l6 (default), arctic-xs, or a HuggingFace BERT folder.", DefaultValueFactory = _ => CheckpointStore.DefaultName };
        var command = new Command("embed",
            """
            Embed sentences with a pretrained checkpoint (mean pooling, L2-normalised) and print their cosine similarities.

            Example:
              mlnetbert embed --text "A man is playing a guitar." --text "Someone plays music."
            """)
        {
            text,
            model,
        };
        command.SetAction(parse =>
        {
            var sentences = parse.GetValue(text)!;
            var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve(parse.GetValue(model)!);
            var encoder = checkpoint.CreateEncoder();
            using var scope = NewDisposeScope();
            using var bert = BertModel.FromCheckpoint(checkpoint);
            bert.eval();
            using var noGrad = no_grad();
            var batch = encoder.EncodeBatch(sentences, null, 256);
            long[] shape = [batch.BatchSize, batch.SequenceLength];
            var mask = tensor(batch.AttentionMask, shape);
            var last = bert.Forward(tensor(batch.InputIds, shape), mask, tensor(batch.TokenTypeIds, shape))[^1];
            var m = mask.unsqueeze(-1).to_type(float32);
            var pooled = (last * m).sum(1) / m.sum(1).clamp_min(1e-9);
            var normalized = nn.functional.normalize(pooled, p: 2, dim: 1);
            var vectors = normalized.data<float>().ToArray();
            int dim = (int)normalized.shape[1];
            Console.WriteLine($"checkpoint: {checkpoint.Name} ({checkpoint.Config.NumHiddenLayers} layers, hidden {dim})");
            for (int i = 0; i < sentences.Length; i++)
                Console.WriteLine($"[{i}] {string.Join(' ', vectors.Skip(i * dim).Take(6).Select(v => v.ToString("F3").PadLeft(6)))} ...  {sentences[i]}");
            for (int i = 0; i < sentences.Length; i++)
                for (int j = i + 1; j < sentences.Length; j++)
                {
                    double cos = 0;
                    for (int d = 0; d < dim; d++)
                        cos += vectors[i * dim + d] * vectors[j * dim + d];
                    Console.WriteLine($"cosine([{i}], [{j}]) = {cos:F4}");
                }
            return ExitCodes.Success;
        });
        return command;
    }
}
