using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Inference;

namespace MlNetBert.Cli.Commands;

/// <summary>
/// <c>mlnetbert embed</c>: sentence embeddings from a sentence-embedding model (a run folder, model.zip or
/// model.onnx) or a pretrained checkpoint, for a few texts (printed with their cosine similarities) or a whole file.
/// </summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var text = new Option<string[]>("--text") { Description = "A sentence to embed (repeat for several).", AllowMultipleArgumentsPerToken = false };
        var model = new Option<string>("--model")
        {
            Description = "A sentence-embedding model (run folder, model.zip or model.onnx from 'train --task sentence-embedding'), or a checkpoint: minilm-l6 (default), arctic-xs, or a HuggingFace BERT folder.",
            DefaultValueFactory = _ => CheckpointStore.DefaultName,
        };
        var input = new Option<string?>("--input") { Description = "A file of texts (TSV or CSV) to embed, one per row." };
        var output = new Option<string?>("--output") { Description = "Where to write the vectors, with --input: .jsonl (one {\"line\",\"text\",\"embedding\"} object per line) or TSV (line, text, then one column per dimension)." };
        var batchSize = new Option<int>("--batch-size") { Description = "Texts per forward pass.", DefaultValueFactory = _ => 32 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var data = new DataArguments();
        var command = new Command("embed",
            """
            Embed sentences: print their vectors and cosine similarities, or write a file of vectors.

            Examples:
              mlnetbert embed --text "A man is playing a guitar." --text "Someone plays music."
              mlnetbert embed --model models/runs/my-embedder --input sentences.tsv --output vectors.jsonl
            """)
        {
            text, model, input, output, batchSize, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            var sentences = parse.GetValue(text) ?? [];
            string? inputFile = parse.GetValue(input), outputFile = parse.GetValue(output);
            if ((sentences.Length == 0) == (inputFile is null))
                throw new BadInputException("pass either --text (repeat for several) or --input FILE --output FILE");
            if (inputFile is not null && outputFile is null)
                throw new BadInputException("--input needs --output FILE for the vectors (.jsonl or .tsv)");
            int batch = parse.GetValue(batchSize);
            if (batch < 1)
                throw new BadInputException($"--batch-size must be at least 1, not {batch}");

            using var file = ModelFile.OpenEmbedding(parse.GetValue(model)!, Console.Error.WriteLine);
            var card = file.Card;
            if (inputFile is null)
            {
                var vectors = file.Predictor.PredictBatch(sentences, null, batch).Select(p => p.Embedding!).ToList();
                if (parse.GetValue(json))
                {
                    var rows = new JsonArray();
                    for (int i = 0; i < sentences.Length; i++)
                        rows.Add(new JsonObject { ["text"] = sentences[i], ["embedding"] = new JsonArray(vectors[i].Select(v => JsonValue.Create(v)).ToArray<JsonNode?>()) });
                    Console.WriteLine(new JsonObject { ["model"] = card.Checkpoint, ["dimension"] = card.EmbeddingDimension, ["normalize"] = card.Normalize, ["outputs"] = rows }.ToJsonString());
                    return ExitCodes.Success;
                }

                Console.WriteLine($"model: {card.Checkpoint} (dimension {card.EmbeddingDimension}, {card.Pooling} pooling{(card.Normalize ? ", L2-normalised" : "")})");
                for (int i = 0; i < sentences.Length; i++)
                    Console.WriteLine($"[{i}] {string.Join(' ', vectors[i].Take(6).Select(v => v.ToString("F3", CultureInfo.InvariantCulture).PadLeft(6)))} ...  {sentences[i]}");
                for (int i = 0; i < sentences.Length; i++)
                    for (int j = i + 1; j < sentences.Length; j++)
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cosine([{i}], [{j}]) = {SentenceEmbeddingTask.Cosine(vectors[i], vectors[j]):F4}"));
                return ExitCodes.Success;
            }

            var table = TabularReader.Read(data.Read(parse, inputFile, LabelKind.None));
            var texts = table.Rows.Select(r => r.Text).ToList();
            var embeddings = file.Predictor.PredictBatch(texts, null, batch);
            bool jsonLines = Path.GetExtension(outputFile!).ToLowerInvariant() is ".jsonl" or ".json";
            var sb = new StringBuilder();
            if (!jsonLines)
            {
                sb.Append("line\ttext");
                for (int d = 0; d < card.EmbeddingDimension; d++)
                    sb.Append(CultureInfo.InvariantCulture, $"\te{d}");
                sb.Append('\n');
            }

            for (int i = 0; i < texts.Count; i++)
            {
                var vector = embeddings[i].Embedding!;
                if (jsonLines)
                {
                    sb.Append(JsonSerializer.Serialize(new { line = table.Rows[i].Line, text = texts[i], embedding = vector })).Append('\n');
                    continue;
                }

                sb.Append(CultureInfo.InvariantCulture, $"{table.Rows[i].Line}\t{texts[i].Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ')}");
                foreach (float v in vector)
                    sb.Append('\t').Append(v.ToString("R", CultureInfo.InvariantCulture));
                sb.Append('\n');
            }

            AtomicFile.WriteAllText(outputFile!, sb.ToString());
            Console.WriteLine(parse.GetValue(json)
                ? new JsonObject { ["input"] = table.Path, ["output"] = Path.GetFullPath(outputFile!), ["rows"] = texts.Count, ["dimension"] = card.EmbeddingDimension, ["skipped"] = table.SkippedRows.Count }.ToJsonString()
                : $"wrote {texts.Count} vectors of dimension {card.EmbeddingDimension} to {outputFile}" + (table.SkippedRows.Count > 0 ? $" ({table.SkippedRows.Count} bad rows skipped)" : ""));
            return ExitCodes.Success;
        });
        return command;
    }
}
