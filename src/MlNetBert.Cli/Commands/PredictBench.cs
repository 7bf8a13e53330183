using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Inference;
using MlNetBert.Tokenization;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert bench predict</c>: inference throughput and latency of exported models against the original MiniLM graph.</summary>
internal static class PredictBench
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "An exported model.onnx (its checkpoint should be minilm-l6 for a like-for-like baseline).", Required = true };
        var variants = new Option<string[]>("--variant") { Description = "Another exported file to measure the same way (repeatable): an --optimize, --quantize int8 or --fp16 export." };
        var dataFile = new Option<string>("--data") { Description = "Sentences to predict (e.g. sst2/dev.tsv).", Required = true };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 2 };
        var repeats = new Option<int>("--repeats") { Description = "Passes over the data per configuration, taken in turns (best is reported).", DefaultValueFactory = _ => 2 };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var data = new DataArguments();
        var command = new Command("predict",
            """
            Sentences per second and latency percentiles: the original all-MiniLM-L6-v2 ONNX graph (baseline), the exported
            model and each --variant, at batch 1 and 32, with and without length sorting, and end-to-end
            BertOnnxModel.PredictBatch. Configurations are measured in turns, one pass each per round, so a change in
            machine load affects them alike; every figure is also given as a ratio against the raw graph at the same
            batch setting, measured in the same run.

            Example:
              mlnetbert bench predict --model model.onnx --variant model-opt.onnx --variant model-int8.onnx --data sst2/dev.tsv --json bench-predict.json
            """)
        {
            model, variants, dataFile, threads, repeats, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            var table = TabularReader.Read(data.Read(parse, parse.GetValue(dataFile)!, LabelKind.None));
            var texts = table.Rows.Select(r => r.Text).ToList();
            int threadCount = parse.GetValue(threads), passes = parse.GetValue(repeats);
            if (threadCount < 1 || passes < 1)
                throw new BadInputException("--threads and --repeats must be at least 1");
            var store = new CheckpointStore(log: Console.Error.WriteLine);
            var checkpoint = store.Resolve("minilm-l6");
            var encoder = checkpoint.CreateEncoder();
            var encoded = texts.Select(t => encoder.Encode(t, null, 128)).ToList();
            byte[] raw = store.ReadPackagedModel("minilm-l6").Onnx;
            string exported = parse.GetValue(model)!;
            var files = new List<(string Label, string Path)> { ("exported model", exported) };
            foreach (var path in parse.GetValue(variants) ?? [])
                files.Add(($"variant {Path.GetFileName(path)}", path));
            foreach (var (_, path) in files)
                if (!File.Exists(path))
                    throw new BadInputException($"{path}: model file not found");

            string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown";
            Console.WriteLine($"{texts.Count} sentences, {threadCount} threads, {passes} passes per configuration; load average at start: {load}");
            var sessions = new List<InferenceSession> { Session(raw, threadCount) };
            var configs = new List<Config>
            {
                new("raw all-MiniLM-L6-v2 graph, sorted, batch 32", sessions[0], "last_hidden_state", Batches(encoder, encoded, 32, sorted: true), "sorted_32"),
                new("raw all-MiniLM-L6-v2 graph, file order, batch 32", sessions[0], "last_hidden_state", Batches(encoder, encoded, 32, sorted: false), "file_order_32"),
                new("raw all-MiniLM-L6-v2 graph, batch 1", sessions[0], "last_hidden_state", Batches(encoder, encoded, 1, sorted: false), "batch_1"),
            };
            var variantNames = new JsonObject();
            foreach (var (label, path) in files)
            {
                var session = Session(File.ReadAllBytes(path), threadCount);
                sessions.Add(session);
                string output = session.OutputMetadata.ContainsKey(ModelFileFormat.Logits) ? ModelFileFormat.Logits : ModelFileFormat.Score;
                string variant = session.ModelMetadata.CustomMetadataMap.GetValueOrDefault(ModelFileFormat.VariantKey) ?? "fp32";
                variantNames[label] = variant;
                string name = $"{label} ({variant})";
                configs.Add(new($"{name}, sorted, batch 32", session, output, Batches(encoder, encoded, 32, sorted: true), "sorted_32"));
                if (label == "exported model")
                    configs.Add(new($"{name}, file order, batch 32", session, output, Batches(encoder, encoded, 32, sorted: false), "file_order_32"));
                configs.Add(new($"{name}, batch 1", session, output, Batches(encoder, encoded, 1, sorted: false), "batch_1"));
            }
            // The raw graph once more with ONNX Runtime's default optimizers (SkipLayerNormFusion on), to show what
            // turning that fusion off on CPU is worth.
            var defaults = Session(raw, threadCount, ortDefaults: true);
            sessions.Add(defaults);
            configs.Add(new("raw graph, ONNX Runtime default optimizers, sorted, batch 32", defaults, "last_hidden_state", configs[0].Batches, "sorted_32"));
            try
            {
                foreach (var c in configs)
                    Run(c.Session, c.Batches[0], c.Output); // warm-up
                for (int p = 0; p < passes; p++)
                    foreach (var c in configs)
                        c.Pass();
            }
            finally
            {
                sessions.ForEach(s => s.Dispose());
            }

            var results = new JsonObject { ["sentences"] = texts.Count, ["threads"] = threadCount, ["load_average_at_start"] = load, ["variants"] = variantNames };
            var rawBySetting = configs.Take(3).ToDictionary(c => c.Setting, c => c.Result().SentencesPerSecond);
            double baseline = rawBySetting["sorted_32"];
            void Report(string name, Measurement m, string setting)
            {
                double same = m.SentencesPerSecond / rawBySetting[setting];
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-64} {m.SentencesPerSecond,8:F1} sentences/s  x{same:F2} vs raw at this setting  latency per call p50 {m.P50:F1} ms, p90 {m.P90:F1} ms, p99 {m.P99:F1} ms"));
                results[name] = new JsonObject
                {
                    ["sentences_per_second"] = Math.Round(m.SentencesPerSecond, 1),
                    ["ratio_to_raw_same_setting"] = Math.Round(same, 3),
                    ["ratio_to_raw_sorted_32"] = Math.Round(m.SentencesPerSecond / baseline, 3),
                    ["p50_ms"] = Math.Round(m.P50, 2),
                    ["p90_ms"] = Math.Round(m.P90, 2),
                    ["p99_ms"] = Math.Round(m.P99, 2),
                };
            }
            foreach (var c in configs)
                Report(c.Name, c.Result(), c.Setting);

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
                Report("BertOnnxModel.PredictBatch end to end (tokenize + run)", new Measurement(texts.Count / best, best * 1000, best * 1000, best * 1000), "sorted_32");
            }
            if (parse.GetValue(json) is { } jsonPath)
                AtomicFile.WriteAllText(jsonPath, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return ExitCodes.Success;
        });
        return command;
    }

    internal sealed record Measurement(double SentencesPerSecond, double P50, double P90, double P99);

    /// <summary>One measured configuration: keeps its fastest pass.</summary>
    private sealed class Config(string name, InferenceSession session, string output, List<EncodedBatch> batches, string setting)
    {
        public string Name => name;

        public InferenceSession Session => session;

        public string Output => output;

        public List<EncodedBatch> Batches => batches;

        /// <summary>sorted_32, file_order_32 or batch_1: which raw-graph figure it is compared with.</summary>
        public string Setting => setting;

        private double _bestTotal = double.MaxValue;
        private List<double> _latencies = [];

        public void Pass()
        {
            var pass = new List<double>(Batches.Count);
            var total = Stopwatch.StartNew();
            foreach (var batch in Batches)
            {
                var sw = Stopwatch.StartNew();
                Run(Session, batch, Output);
                pass.Add(sw.Elapsed.TotalMilliseconds);
            }
            if (total.Elapsed.TotalSeconds < _bestTotal)
            {
                _bestTotal = total.Elapsed.TotalSeconds;
                _latencies = pass;
            }
        }

        public Measurement Result()
        {
            var sorted = _latencies.Order().ToList();
            double Percentile(double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Floor(q * sorted.Count))];
            int rows = Batches.Sum(b => b.BatchSize);
            return new Measurement(rows / _bestTotal, Percentile(0.5), Percentile(0.9), Percentile(0.99));
        }
    }

    // Every session, the raw graph's included, gets the CPU settings BertOnnxModel uses (unless ortDefaults).
    private static InferenceSession Session(byte[] model, int threads, bool ortDefaults = false)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (!ortDefaults)
            options.AddSessionConfigEntry(BertOnnxOptions.DisabledOptimizersConfigKey, BertOnnxOptions.CpuDisabledOptimizers);
        return new InferenceSession(model, options);
    }

    private static List<EncodedBatch> Batches(BertTextEncoder encoder, List<EncodedText> rows, int batchSize, bool sorted)
    {
        var order = Enumerable.Range(0, rows.Count).ToArray();
        if (sorted)
            Array.Sort(order, (a, b) => rows[a].Length.CompareTo(rows[b].Length));
        var batches = new List<EncodedBatch>();
        for (int s = 0; s < order.Length; s += batchSize)
            batches.Add(encoder.Pad(order.Skip(s).Take(batchSize).Select(i => rows[i]).ToList()));
        return batches;
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
