using MlNetBert.Tasks;
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Modeling;
using MlNetBert.Training;
using static TorchSharp.torch;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert bench</c>: measured speed, always as a ratio against a baseline measured in the same run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Measure training and inference speed (results as ratios against a baseline in the same run).");
        bench.Add(TrainBench());
        bench.Add(MatmulBench());
        bench.Add(PredictBench.Create());
        bench.Add(ServeBench.Create());
        bench.Add(NasBertBench.Create());
        bench.Add(UiBench.Create());
        return bench;
    }

    private static Command TrainBench()
    {
        var dataFile = new Option<string>("--data") { Description = "Labelled sentences to train on (e.g. sst2/train.tsv).", Required = true };
        var rows = new Option<int>("--rows") { Description = "Rows per measured epoch (a seeded sample).", DefaultValueFactory = _ => 1024 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int>("--max-length") { DefaultValueFactory = _ => 128 };
        var model = new Option<string>("--model") { DefaultValueFactory = _ => CheckpointStore.DefaultName };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var data = new DataArguments();
        var command = new Command("train",
            """
            Training throughput of the plain loop (shuffled file order, dense AdamW) against MlNetBert's loop
            (length-grouped batches, sparse word-embedding updates) on the same rows, then MlNetBert's loop with weight
            averaging over every step (the cost of --average-last), plus the matrix-product peak of this machine and the
            fraction of it spent on real (unpadded) tokens.

            Example:
              mlnetbert bench train --data sst2/train.tsv --rows 1024 --json bench-train.json
            """)
        {
            dataFile, rows, batch, maxLength, model, json,
        };
        data.AddTo(command);
        command.SetAction(parse =>
        {
            var table = TabularReader.Read(data.Read(parse, parse.GetValue(dataFile)!, LabelKind.Categorical, parse.GetValue(rows), 42));
            var labels = LabelSet.FromTraining(table.Rows, table.Path, table.Columns.Label);
            var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve(parse.GetValue(model)!);
            var encoder = checkpoint.CreateEncoder();
            var examples = table.Rows.Select(r => new TrainingExample(encoder.Encode(r.Text, null, parse.GetValue(maxLength)), labels.IndexOf(r.Label!), 0)).ToList();
            var tensors = checkpoint.LoadTensors();
            double peak = MatrixProductSpeed.Fp32Peak();
            Console.WriteLine($"torch threads {get_num_threads()}, fp32 matrix-product peak {peak:F1} GFLOP/s, {examples.Count} rows, batch {parse.GetValue(batch)}; CPU: {CpuFeatures.Summary}");

            // With native bf16 the bf16 row is also compared with the bf16 peak, the ceiling it actually runs under.
            double? bf16Peak = CpuFeatures.HasNativeBFloat16 ? MatrixProductSpeed.Measure(ScalarType.BFloat16, 1536, 1536, 1536) : null;
            if (bf16Peak is { } p16)
                Console.WriteLine($"bf16 matrix-product peak {p16:F1} GFLOP/s (x{p16 / peak:F2} the fp32 peak)");
            var results = new JsonObject
            {
                ["rows"] = examples.Count, ["batch_size"] = parse.GetValue(batch), ["threads"] = get_num_threads(), ["cpu"] = CpuFeatures.Summary,
                ["matmul_peak_gflops"] = Math.Round(peak, 1), ["matmul_peak_gflops_bf16"] = bf16Peak is { } b ? Math.Round(b, 1) : null,
            };
            // Unmeasured warm-up (first-use costs of libtorch's allocator and kernels), so the first configuration
            // measured, the baseline, is not charged for them.
            {
                manual_seed(1);
                using var warm = new BertClassifier(checkpoint.Config, labels.Count, Pooling.Cls);
                warm.Bert.LoadWeights(tensors, checkpoint.WeightsPath);
                var warmOptions = new BertTrainingOptions { Epochs = 1, BatchSize = parse.GetValue(batch), LengthGroupedBatches = false, SparseEmbeddingUpdates = false, Seed = 2 };
                new BertFineTuner(warmOptions, ClassificationTraining.Text).Train(warm, examples.Take(Math.Min(examples.Count, 4 * parse.GetValue(batch))).ToList(), null);
            }
            double? baseline = null;
            // Then MlNetBert's loop with weight averaging over every step (--average-last 1), its worst case, and, where the
            // CPU multiplies bf16 natively, MlNetBert's loop with bf16 products.
            var loops = new List<(string Name, bool Grouped, bool Sparse, double Average, bool BFloat16)>
            {
                ("plain", false, false, 0.0, false), ("length-grouped", true, false, 0.0, false), ("mlnetbert", true, true, 0.0, false), ("mlnetbert+avg", true, true, 1.0, false),
            };
            if (CpuFeatures.HasNativeBFloat16)
                loops.Add(("mlnetbert+bf16", true, true, 0.0, true));
            else
                Console.WriteLine("no native bf16 on this CPU: the mlnetbert+bf16 row is left out");
            foreach (var (name, grouped, sparse, average, bf16) in loops)
            {
                manual_seed(1);
                using var network = new BertClassifier(checkpoint.Config, labels.Count, Pooling.Cls);
                network.Bert.LoadWeights(tensors, checkpoint.WeightsPath);
                var options = new BertTrainingOptions { Epochs = 1, BatchSize = parse.GetValue(batch), LengthGroupedBatches = grouped, SparseEmbeddingUpdates = sparse, AverageWeightsOverLast = average, Precision = bf16 ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32, Seed = 1 };
                var history = new BertFineTuner(options, ClassificationTraining.Text).Train(network, examples, null);
                double rate = history.SamplesPerSecond;
                baseline ??= rate;
                // Training FLOPs ~ 6 x (encoder parameters outside the embeddings) per token, plus attention's 12 x L x hidden x length.
                long encoderParams = tensors.Where(kv => kv.Key.StartsWith("encoder.", StringComparison.Ordinal)).Sum(kv => kv.Value.ElementCount);
                double seconds = history.TrainingTime.TotalSeconds;
                double realGflops = 6.0 * encoderParams * history.RealTokens / seconds / 1e9;
                double paddedGflops = 6.0 * encoderParams * history.PaddedTokens / seconds / 1e9;
                string ofBf16Peak = bf16 && bf16Peak is { } ceiling ? $", {100 * realGflops / ceiling:F0}% of the bf16 peak" : "";
                Console.WriteLine($"{name,-15} {rate,7:F1} samples/s  x{rate / baseline.Value:F2}  real tokens {100.0 * history.RealTokens / history.PaddedTokens:F0}%  " +
                    $"{realGflops:F0} GFLOP/s on real tokens ({100 * realGflops / peak:F0}% of the fp32 peak{ofBf16Peak}), {paddedGflops:F0} counting padding");
                results[name] = new JsonObject
                {
                    ["samples_per_second"] = Math.Round(rate, 2),
                    ["ratio_to_plain"] = Math.Round(rate / baseline.Value, 3),
                    ["real_token_fraction"] = Math.Round((double)history.RealTokens / history.PaddedTokens, 4),
                    ["gflops_real_tokens"] = Math.Round(realGflops, 1),
                    ["fraction_of_peak_real_tokens"] = Math.Round(realGflops / peak, 3),
                    ["fraction_of_bf16_peak_real_tokens"] = bf16 && bf16Peak is { } c ? Math.Round(realGflops / c, 3) : null,
                    ["seconds"] = Math.Round(seconds, 2),
                };
            }
            if (parse.GetValue(json) is { } path)
                AtomicFile.WriteAllText(path, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command MatmulBench()
    {
        var tokens = new Option<int>("--tokens") { Description = "Tokens a batch (batch size x padded length) for the BERT-shaped products.", DefaultValueFactory = _ => 32 * 48 };
        var model = new Option<string>("--model") { DefaultValueFactory = _ => CheckpointStore.DefaultName };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var command = new Command("matmul",
            """
            libtorch's matrix-product speed on this machine in fp32 and bf16: a 1536x1536 square product and the three
            projection shapes of one BERT training step, with the CPU features that decide which kernels run.

            Example:
              mlnetbert bench matmul --json bench-matmul.json
            """)
        {
            tokens, model, json,
        };
        command.SetAction(parse =>
        {
            var config = new CheckpointStore(log: Console.Error.WriteLine).Resolve(parse.GetValue(model)!).Config;
            Console.WriteLine($"torch threads {get_num_threads()}; CPU: {CpuFeatures.Summary}; native bf16: {(CpuFeatures.HasNativeBFloat16 ? "yes" : "no")}");
            var timings = MatrixProductSpeed.Survey(config.HiddenSize, config.IntermediateSize, parse.GetValue(tokens));
            var rows = new JsonArray();
            foreach (var shape in timings.GroupBy(t => t.Shape))
            {
                double fp32 = shape.Single(t => t.DType == ScalarType.Float32).Gflops;
                double bf16 = shape.Single(t => t.DType == ScalarType.BFloat16).Gflops;
                Console.WriteLine($"{shape.Key,-42} fp32 {fp32,7:F1} GFLOP/s   bf16 {bf16,7:F1} GFLOP/s   bf16/fp32 x{bf16 / fp32:F2}");
                rows.Add(new JsonObject { ["shape"] = shape.Key, ["fp32_gflops"] = Math.Round(fp32, 1), ["bf16_gflops"] = Math.Round(bf16, 1), ["bf16_ratio"] = Math.Round(bf16 / fp32, 3) });
            }
            if (parse.GetValue(json) is { } path)
            {
                var results = new JsonObject { ["threads"] = get_num_threads(), ["cpu"] = CpuFeatures.Summary, ["native_bf16"] = CpuFeatures.HasNativeBFloat16, ["products"] = rows };
                AtomicFile.WriteAllText(path, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
