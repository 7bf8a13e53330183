using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Inference;
using MlNetBert.Tokenization;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert bench predict</c>: inference throughput and latency of an exported model against the original MiniLM graph.</summary>
internal static class PredictBench
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "An exported model.onnx (its checkpoint should be minilm-l6 for a like-for-like baseline).", Required = true };
        var dataFile = new Option<string>("--data") { Description = "Sentences to predict (e.g. sst2/dev.tsv).", Required = true };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 2 };
        var repeats = new Option<int>("--repeats") { Description = "Passes over the data per configuration (best is reported).", DefaultValueFactory = _ => 2 };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var data = new DataArguments();
        var command = new Command("predict",
            """
            Sentences per second and latency percentiles: the original all-MiniLM-L6-v2 ONNX graph (baseline), the exported
            model, and end-to-end BertOnnxModel.PredictBatch, at batch 1 and 32, with and without length sorting.

            Example:
              mlnetbert bench predict --model models/runs/my-run/model.onnx --data sst2/dev.tsv --json bench-predict.json
            """)
        {
            model, dataFile, threads, repeats, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            var table = TabularReader.Read(data.Read(parse, parse.GetValue(dataFile)!, LabelKind.None));
            var texts = table.Rows.Select(r => r.Text).ToList();
            int threadCount = parse.GetValue(threads), passes = parse.GetValue(repeats);
            var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve("minilm-l6");
            var encoder = checkpoint.CreateEncoder();
            var encoded = texts.Select(t => encoder.Encode(t, null, 128)).ToList();
            var (packageId, version, assembly, _) = CheckpointStore.BuiltIn["minilm-l6"];
            byte[] raw = OnnxBertImporter.ReadEmbeddedResources(CheckpointStore.FindPackageAssembly(packageId, version, assembly)).Onnx;

            var results = new JsonObject { ["sentences"] = texts.Count, ["threads"] = threadCount };
            double? baseline = null;
            void Report(string name, Measurement m)
            {
                baseline ??= m.SentencesPerSecond;
                Console.WriteLine($"{name,-44} {m.SentencesPerSecond,8:F1} sentences/s  x{m.SentencesPerSecond / baseline.Value:F2}  latency per call p50 {m.P50:F1} ms, p90 {m.P90:F1} ms, p99 {m.P99:F1} ms");
                results[name] = new JsonObject
                {
                    ["sentences_per_second"] = Math.Round(m.SentencesPerSecond, 1),
                    ["ratio_to_raw_sorted_32"] = Math.Round(m.SentencesPerSecond / baseline.Value, 3),
                    ["p50_ms"] = Math.Round(m.P50, 2),
                    ["p90_ms"] = Math.Round(m.P90, 2),
                    ["p99_ms"] = Math.Round(m.P99, 2),
                };
            }

            using (var rawSession = Session(raw, threadCount))
            {
                Report("raw all-MiniLM-L6-v2 graph, sorted, batch 32", Measure(rawSession, encoder, encoded, 32, sorted: true, passes, "last_hidden_state"));
                Report("raw all-MiniLM-L6-v2 graph, file order, batch 32", Measure(rawSession, encoder, encoded, 32, sorted: false, passes, "last_hidden_state"));
                Report("raw all-MiniLM-L6-v2 graph, batch 1", Measure(rawSession, encoder, encoded, 1, sorted: false, 1, "last_hidden_state"));
            }
            string exported = parse.GetValue(model)!;
            using (var session = Session(File.ReadAllBytes(exported), threadCount))
            {
                string output = session.OutputMetadata.ContainsKey(ModelFileFormat.Logits) ? ModelFileFormat.Logits : ModelFileFormat.Score;
                Report("exported model, sorted, batch 32", Measure(session, encoder, encoded, 32, sorted: true, passes, output));
                Report("exported model, file order, batch 32", Measure(session, encoder, encoded, 32, sorted: false, passes, output));
                Report("exported model, batch 1", Measure(session, encoder, encoded, 1, sorted: false, 1, output));
            }
            using (var onnx = BertOnnxModel.Load(exported, new BertOnnxOptions { IntraOpThreads = threadCount }))
            {
                onnx.PredictBatch(texts.Take(64).ToList());
                double best = double.MaxValue;
                for (int p = 0; p < passes; p++)
                {
                    var sw = Stopwatch.StartNew();
                    onnx.PredictBatch(texts, batchSize: 32);
                    best = Math.Min(best, sw.Elapsed.TotalSeconds);
                }
                Report("BertOnnxModel.PredictBatch end to end (tokenize + run)", new Measurement(texts.Count / best, best * 1000, best * 1000, best * 1000));
            }
            if (parse.GetValue(json) is { } path)
                AtomicFile.WriteAllText(path, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return ExitCodes.Success;
        });
        return command;
    }

    internal sealed record Measurement(double SentencesPerSecond, double P50, double P90, double P99);

    private static InferenceSession Session(byte[] model, int threads)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        return new InferenceSession(model, options);
    }

    private static Measurement Measure(InferenceSession session, BertTextEncoder encoder, List<EncodedText> rows, int batchSize, bool sorted, int passes, string output)
    {
        var order = Enumerable.Range(0, rows.Count).ToArray();
        if (sorted)
            Array.Sort(order, (a, b) => rows[a].Length.CompareTo(rows[b].Length));
        var batches = new List<EncodedBatch>();
        for (int s = 0; s < order.Length; s += batchSize)
            batches.Add(encoder.Pad(order.Skip(s).Take(batchSize).Select(i => rows[i]).ToList()));
        Run(session, batches[0], output);
        double bestTotal = double.MaxValue;
        List<double> latencies = [];
        for (int p = 0; p < passes; p++)
        {
            var pass = new List<double>(batches.Count);
            var total = Stopwatch.StartNew();
            foreach (var batch in batches)
            {
                var sw = Stopwatch.StartNew();
                Run(session, batch, output);
                pass.Add(sw.Elapsed.TotalMilliseconds);
            }
            if (total.Elapsed.TotalSeconds < bestTotal)
            {
                bestTotal = total.Elapsed.TotalSeconds;
                latencies = pass;
            }
        }
        latencies.Sort();
        double Percentile(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Floor(q * latencies.Count))];
        return new Measurement(rows.Count / bestTotal, Percentile(0.5), Percentile(0.9), Percentile(0.99));
    }

    private static void Run(InferenceSession session, EncodedBatch batch, string output)
    {
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
        using var types = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds], [ids, mask, types], [output]);
    }
}
